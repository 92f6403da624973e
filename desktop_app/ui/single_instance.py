"""One Folio per user and profile: a second start hands its documents to the first.

Every window loads its own copy of the model (gigabytes of RAM or VRAM), so double-clicking a
second document while Folio is open must open it in the running window instead of starting a
second one. The first start (the *primary*) listens on a `QLocalServer` (a UNIX socket in
XDG_RUNTIME_DIR or the temp dir, a named pipe on Windows) that only this user can use; a later
start connects, sends one JSON line and waits for the primary's answer:

    → {"v": 1, "files": ["/abs/a.pdf"], "cwd": "/home/me", "activation_token": "…"}\\n
    ← {"v": 1, "ok": true}\\n          (or {"v": 1, "ok": false, "error": "…"})

The sender makes paths absolute (it knows its working folder, `cwd`, which the primary logs);
the activation token is optional.

The server name hashes the user name and the data folder, so each `FOLIO_HOME` (the tests use
one per test) and each user of a shared machine has its own primary.

Who is primary is decided under a lock file, held by the primary until its event loop runs
(from then on it can answer): a start that waited for it finds a primary that answers, not one
that is still building its window. Without the lock, two starts at once could both find
nobody and both listen. Should one get past it anyway (the lock timed out), `listen()` fails
on the name the other took and this start asks that one instead. A socket file left by a
crashed run (it exists, nobody answers) is removed, then listened on.

On POSIX the socket is listened on without Qt's access options and made owner-only right
after: with those options Qt binds elsewhere and renames over the name, which replaces even a
live primary's socket and so hides both the race and the stale file.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QDeadlineTimer, QLockFile, QObject, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app import paths
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
#: Connecting to a listening primary is immediate; this only bounds a stuck system.
CONNECT_TIMEOUT_MS = 1000
#: How long a second start waits for the primary to confirm it opened the files.
ACK_TIMEOUT_MS = 3000
#: How long a start waits for another that is still deciding or starting up (normally well
#: under a second; a lock older than QLockFile's 30 s stale time is taken over anyway).
LOCK_TIMEOUT_MS = 10_000
#: Blocking Qt waits hold Python's GIL, so a sender waits in slices: a primary answering from
#: another thread of the same process (the tests) gets to run in between.
WAIT_SLICE_MS = 20
#: The primary drops a connection that sends no complete message within this time.
READ_TIMEOUT_MS = 5000
#: A hand-off is a list of paths; anything bigger is not one.
MAX_MESSAGE_BYTES = 1 << 20


class NotAnswering(FolioError):
    """A Folio is running (its socket accepted us) but did not confirm the hand-off."""


@dataclass(frozen=True)
class HandOff:
    """What a second start asked the primary to do: open `files` (absolute) and come forward."""

    files: tuple[str, ...]
    #: The Wayland activation token the desktop gave the second start; the primary's window
    #: needs it to be allowed to take the focus (Qt reads it from XDG_ACTIVATION_TOKEN).
    activation_token: str | None = None


def server_name(data_dir: Path | None = None, user: str | None = None) -> str:
    """The local server name for this user and data folder (short: UNIX socket paths are).

    On Linux the socket goes in XDG_RUNTIME_DIR when there is one: only this user can enter
    it, logging out empties it, and it is the same for every process of the session, where
    Qt's default (the temp dir) follows TMPDIR, which a terminal may set differently.
    """
    folder = (data_dir or paths.data_dir()).resolve()
    key = f"{user if user is not None else _user_name()}\n{folder}"
    name = "folio-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if sys.platform.startswith("linux") and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, name)
    return name


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else ""


class SingleInstance(QObject):
    """This process's end of the hand-off: the primary's server, or a second start's client."""

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        if sys.platform == "win32":  # a pipe readable and writable by this user only
            self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._on_message: Callable[[HandOff], None] = lambda message: None

    # ------------------------------------------------------------------ start
    def claim(self, files: Sequence[str], on_message: Callable[[HandOff], None]) -> bool:
        """Become the primary (True) or hand `files` to the running one (False).

        As primary, `on_message` gets every later start's `HandOff`. Raises `NotAnswering`
        when a Folio is running but did not confirm within `ACK_TIMEOUT_MS`.
        """
        lock = QLockFile(str(paths.data_dir() / "single-instance.lock"))
        if not lock.tryLock(LOCK_TIMEOUT_MS):
            log.warning("single-instance lock busy; deciding without it", extra={"file_only": True})
        if self.send(files):
            lock.unlock()
            _tell_user(files)
            return False
        if not self.listen(on_message):
            # The name is taken: by a start racing this one, or by a crashed run's socket.
            if self.send(files):
                lock.unlock()
                _tell_user(files)
                return False
            QLocalServer.removeServer(self.name)  # nobody answers it: left by a crash
            if not self.listen(on_message):
                log.warning("cannot listen as %s (%s): a later start opens a second window",
                            self.name, self._server.errorString())  # fmt: skip
        # Released once the event loop runs: until then this process could not answer.
        QTimer.singleShot(0, lock.unlock)
        return True

    def listen(self, on_message: Callable[[HandOff], None]) -> bool:
        """Answer later starts from now on; False if the name is taken (see `claim`)."""
        self._on_message = on_message
        if not self._server.listen(self.name):
            return False
        if os.name == "posix":
            try:  # connecting to a UNIX socket takes write permission on its file
                os.chmod(self._server.fullServerName(), 0o600)
            except OSError as exc:
                log.warning("cannot make %s owner-only: %s", self._server.fullServerName(), exc)
        return True

    def close(self) -> None:
        """Stop answering; the socket file goes with it."""
        self._server.close()

    # ----------------------------------------------------------- second start
    def send(self, files: Sequence[str], cwd: str | None = None) -> bool:
        """Hand `files` to the running primary: True once it confirmed, False if none listens.

        Relative paths are resolved against `cwd` (default: this process's) first, since the
        primary runs elsewhere. Blocks for at most about `ACK_TIMEOUT_MS`.
        """
        cwd = cwd or os.getcwd()
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(CONNECT_TIMEOUT_MS):
            return False  # no socket, or one left by a crashed run (connection refused)
        message: dict[str, object] = {
            "v": PROTOCOL_VERSION,
            "files": [os.path.normpath(os.path.join(cwd, f)) for f in files],
            "cwd": cwd,
        }
        token = os.environ.get("XDG_ACTIVATION_TOKEN")
        if token:
            message["activation_token"] = token
        _allow_foreground()
        deadline = QDeadlineTimer(ACK_TIMEOUT_MS)
        sock.write(json.dumps(message).encode("utf-8") + b"\n")
        while sock.bytesToWrite() and not deadline.hasExpired():
            sock.waitForBytesWritten(WAIT_SLICE_MS)
        reply = _read_line(sock, deadline)
        sock.abort()
        if reply is None:
            raise NotAnswering(
                f"Folio is already running but did not answer within {ACK_TIMEOUT_MS // 1000} "
                "seconds. If it is closing, try again in a moment."
            )
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = {}
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise NotAnswering(f"The running Folio did not open the files: {error or reply!r}")
        return True

    # ---------------------------------------------------------------- primary
    def _accept(self) -> None:
        while (sock := self._server.nextPendingConnection()) is not None:
            buffer = bytearray()
            sock.readyRead.connect(lambda s=sock, b=buffer: self._read(s, b))
            sock.disconnected.connect(sock.deleteLater)
            QTimer.singleShot(READ_TIMEOUT_MS, sock, sock.abort)  # a client that says nothing

    def _read(self, sock: QLocalSocket, buffer: bytearray) -> None:
        buffer += sock.readAll().data()
        if len(buffer) > MAX_MESSAGE_BYTES:
            sock.abort()
            return
        line, newline, _ = bytes(buffer).partition(b"\n")
        if not newline:
            return  # the rest is still on its way
        sock.readyRead.disconnect()
        sock.write(json.dumps(self._answer(line)).encode("utf-8") + b"\n")
        sock.disconnectFromServer()  # sends the answer first

    def _answer(self, line: bytes) -> dict[str, object]:
        try:
            message, cwd = _parse(line)
        except ValueError as exc:
            log.warning("ignored a hand-off: %s", exc)
            return {"v": PROTOCOL_VERSION, "ok": False, "error": str(exc)}
        log.info("a start in %s handed over %d document(s)", cwd, len(message.files))
        try:
            self._on_message(message)
        except Exception:  # the sender gets an answer either way
            log.exception("opening handed-off documents failed", extra={"file_only": True})
            return {"v": PROTOCOL_VERSION, "ok": False, "error": "internal error (see the log)"}
        return {"v": PROTOCOL_VERSION, "ok": True}


def _parse(line: bytes) -> tuple[HandOff, str]:
    """A hand-off and the sender's folder from a message line; ValueError says what is wrong."""
    message = json.loads(line.decode("utf-8"))
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        raise ValueError(f"not a version {PROTOCOL_VERSION} hand-off")
    files, cwd = message.get("files", []), message.get("cwd", "")
    token = message.get("activation_token")
    if not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        raise ValueError("'files' is not a list of paths")
    if not isinstance(cwd, str) or not isinstance(token, str | None):
        raise ValueError("'cwd' or 'activation_token' is not a string")
    if not all(os.path.isabs(f) for f in files):
        raise ValueError("paths must be absolute (the sender resolves them)")
    return HandOff(tuple(files), token or None), cwd


def _read_line(sock: QLocalSocket, deadline: QDeadlineTimer) -> bytes | None:
    """One newline-terminated line from `sock` before `deadline`; None if none came."""
    data = bytearray()
    while b"\n" not in data:
        if deadline.hasExpired():
            return None
        sock.waitForReadyRead(WAIT_SLICE_MS)
        data += sock.readAll().data()
        closed = sock.state() == QLocalSocket.LocalSocketState.UnconnectedState
        if closed and b"\n" not in data:
            return None  # the other end hung up without answering
    return bytes(data).partition(b"\n")[0]


def _allow_foreground() -> None:
    """Windows lets only the foreground process (this one, just started) pass the focus on."""
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.user32.AllowSetForegroundWindow(-1)  # ASFW_ANY: the primary's window


def _tell_user(files: Sequence[str]) -> None:
    """One line for someone who ran `folio` in a terminal; nothing for a double-click."""
    if sys.stderr is None or not sys.stderr.isatty():
        return
    if files:
        names = ", ".join(Path(f).name for f in files)
        print(f"Folio is already running; opened {names} in it", file=sys.stderr)
    else:
        print("Folio is already running; switched to its window", file=sys.stderr)
