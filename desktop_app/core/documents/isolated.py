"""Extract a document in a child process with a time and a memory limit.

Documents come from anywhere, and the parsers (pypdf, python-docx) run arbitrary input:
a hostile or just huge file can take minutes inside one page, or all the memory, and pypdf
cannot be interrupted mid-page. In a child process it can: Stop (or a time limit) ends it
with terminate, a short grace, then kill (as Dangerzone stops its isolated converters),
and a memory limit (RLIMIT_AS on POSIX) turns a runaway parse into a clear error instead of
a swapping machine. The app keeps answering meanwhile, since no parser runs in its process.

Protocol: the request (path, password, size limit) goes to the child's stdin as one JSON
line, never on the command line (other users can read argv). The child writes JSON lines:
`{"progress": [done, total]}`, then one `{"document": …}` or `{"error": …}`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from desktop_app.core.documents import child_answers
from desktop_app.core.documents.model import Document
from desktop_app.errors import DocumentError, PasswordRequired, printable

#: The bundled app's way into the child (it has no `python -m`); see app.py.
CHILD_FLAG = "--folio-extract"
#: A 3,000-page PDF extracts in about a minute here; ten is a hang, not a document.
TIME_LIMIT_S = 600.0
#: Address space for the child: pypdf on a 200 MB PDF stays well below this.
MEMORY_LIMIT_BYTES = 4 * 1024**3
#: Between terminate and kill.
GRACE_S = 1.0
#: The child's nice value (POSIX): it yields the CPU to the answer being generated.
CHILD_NICENESS = 15


class Cancelled(Exception):
    """The extraction was stopped on request."""


def extract(
    path: Path,
    password: str | None,
    max_bytes: int,
    *,
    sha256: str,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    memory_limit_bytes: int = MEMORY_LIMIT_BYTES,
) -> Document:
    """`documents.load(path)` in a child process. Raises what `load` raises, `Cancelled`
    when `cancel` is set, and `DocumentError` when a limit is hit, the child dies or its
    answer is malformed (child_answers.py). `sha256`: of the bytes the caller read; the
    document carries it and the caller's `path`, never what the child says they are."""
    command = child_command(CHILD_FLAG, __name__)
    env = dict(os.environ, FOLIO_EXTRACT_MEMORY=str(memory_limit_bytes))
    # Windows has no nice(): the child starts below normal priority instead.
    flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, text=True, encoding="utf-8", creationflags=flags,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    request = {"path": str(path), "password": password, "max_bytes": max_bytes, "sha256": sha256}
    child.stdin.write(json.dumps(request) + "\n")
    child.stdin.close()
    watchdog = _Watchdog(child, cancel, time_limit_s)
    limit = child_answers.line_limit(max_bytes)
    malformed = False
    try:
        while line := child.stdout.readline(limit + 1):
            untrusted = child_answers.message(line, limit)
            if "progress" in untrusted:
                done, total = child_answers.progress(untrusted["progress"])
                if progress is not None:
                    progress(done, total)
            elif "document" in untrusted:
                return child_answers.document(untrusted["document"], path, sha256)
            elif "error" in untrusted:
                child_answers.raise_error(untrusted)
            else:
                raise child_answers.MalformedAnswer("unknown message")
    except child_answers.MalformedAnswer:
        malformed = True
    finally:
        watchdog.stop()
        stop(child)
    if watchdog.cancelled:
        raise Cancelled
    name = printable(path.name)
    if malformed:
        raise DocumentError(f"Reading {name} failed: the reader sent a malformed answer.")
    if watchdog.timed_out:
        raise DocumentError(f"Reading {name} took longer than {time_limit_s / 60:.0f} minutes.")
    if child.returncode is not None and child.returncode < 0:
        raise DocumentError(f"Reading {name} was stopped: it needed too much memory or crashed.")
    raise DocumentError(f"Reading {name} failed (the reader exited with {child.returncode}).")


class _Watchdog:
    """Stops the child when `cancel` is set or the time limit passes."""

    def __init__(
        self, child: subprocess.Popen, cancel: threading.Event | None, limit_s: float
    ) -> None:
        self.cancelled = self.timed_out = False
        self._done = threading.Event()
        self._child, self._cancel, self._deadline = child, cancel, time.monotonic() + limit_s
        self._thread = threading.Thread(target=self._watch, name="folio-extract-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self._cancel is not None and self._cancel.is_set():
                self.cancelled = True
            elif time.monotonic() > self._deadline:
                self.timed_out = True
            else:
                continue
            stop(self._child)
            return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def child_command(flag: str, module: str) -> list[str]:
    """How to start a child that runs `module`'s `child_main`: the bundled app has no
    `python -m`, so it goes through app.py's `flag` instead."""
    if getattr(sys, "frozen", False):
        return [sys.executable, flag]
    return [sys.executable, "-m", module]


def limit_memory(variable: str) -> None:
    """In a child: cap its address space at the bytes the parent put in `variable` (POSIX),
    so a runaway parse ends with MemoryError instead of swapping the machine."""
    limit = int(os.environ.get(variable, "0"))
    if limit and sys.platform != "win32":
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def stop(child: subprocess.Popen) -> None:
    """terminate → grace → kill; nothing if it has already exited."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# --- the child ---------------------------------------------------------------------------


def child_main() -> int:
    """Read one request from stdin, extract, answer on stdout (see the module docstring)."""
    limit_memory("FOLIO_EXTRACT_MEMORY")
    if sys.platform != "win32":
        # Below the answer in priority: on a 2-core laptop a parse at equal priority cut a
        # streaming answer to a third of its speed; reading can wait for idle cycles.
        os.nice(CHILD_NICENESS)
    from desktop_app.core import documents

    request = json.loads(sys.stdin.readline())

    def send(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:
        doc = documents.load(
            request["path"], request["password"], max_bytes=request["max_bytes"],
            progress=lambda done, total: send({"progress": [done, total]}),
        )  # fmt: skip
    except PasswordRequired as exc:
        send({"error": str(exc), "password": True, "wrong_password": exc.wrong_password})
        return 0
    except DocumentError as exc:
        send({"error": str(exc)})
        return 0
    except MemoryError:
        name = printable(Path(request["path"]).name)
        send({"error": f"Reading {name} needed too much memory."})
        return 0
    if doc.sha256 != request["sha256"]:  # what was parsed is not what the app hashed
        name = printable(Path(request["path"]).name)
        send({"error": f"{name} changed while it was being read; open it again."})
        return 0
    send({"document": {
        "title": doc.title, "type": doc.type,
        "units": [u.as_dict() for u in doc.units], "warnings": list(doc.warnings),
    }})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
