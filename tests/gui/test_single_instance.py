"""A second start hands its documents to the running Folio instead of loading a second model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app.core.chat import session_host
from desktop_app.core.history.store import Store
from desktop_app.ui import launch, single_instance
from desktop_app.ui.single_instance import HandOff, NotAnswering, SingleInstance, server_name
from tests.fixtures.fake_host import FakeHost
from tests.support import ROOT

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="UNIX socket files")


def send_in_thread(qtbot, sender: SingleInstance, files: list[str], cwd: str) -> object:
    """`send` blocks until answered, and the primary answers from this thread's event loop."""
    result: list[object] = []

    def send() -> None:
        try:
            result.append(sender.send(files, cwd))
        except Exception as exc:  # re-raised below, on the test's thread
            result.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10_000)
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


@pytest.fixture(autouse=True)
def no_activation_token(monkeypatch):
    monkeypatch.delenv("XDG_ACTIVATION_TOKEN", raising=False)  # as when run from a terminal


@pytest.fixture
def primary():
    instances: list[SingleInstance] = []

    def make() -> tuple[SingleInstance, list[HandOff]]:
        received: list[HandOff] = []
        instance = SingleInstance()
        assert instance.listen(received.append)
        instances.append(instance)
        return instance, received

    yield make
    for instance in instances:
        instance.close()


def test_a_second_start_hands_its_files_to_the_first(qtbot, primary, tmp_path: Path):
    _, received = primary()
    second = SingleInstance()
    sent = send_in_thread(qtbot, second, ["notes.txt", str(tmp_path / "b" / "c.pdf")],
                          cwd=str(tmp_path))  # fmt: skip
    assert sent is True
    assert received == [HandOff((str(tmp_path / "notes.txt"), str(tmp_path / "b" / "c.pdf")))]


def test_a_start_without_files_asks_the_window_to_come_forward(qtbot, primary, monkeypatch):
    monkeypatch.setenv("XDG_ACTIVATION_TOKEN", "token-from-the-desktop")
    _, received = primary()
    assert send_in_thread(qtbot, SingleInstance(), [], cwd=os.getcwd()) is True
    assert received == [HandOff((), activation_token="token-from-the-desktop")]


def test_with_nobody_listening_send_says_so_at_once():
    started = time.monotonic()
    assert SingleInstance().send(["a.pdf"]) is False
    assert time.monotonic() - started < 1


@posix_only
def test_a_crashed_runs_socket_file_does_not_block_a_new_primary(qtbot, tmp_path: Path):
    crashed = QLocalServer()
    assert crashed.listen(server_name())
    socket_file = crashed.fullServerName()
    crashed.close()
    # What a crash leaves: the socket file, bound by a process that no longer listens.
    left_over = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left_over.bind(socket_file)
    try:
        received: list[HandOff] = []
        instance = SingleInstance()
        started = time.monotonic()
        assert instance.claim([], received.append) is True  # primary, not "already running"
        assert time.monotonic() - started < 2
        assert send_in_thread(qtbot, SingleInstance(), ["x.txt"], str(tmp_path)) is True
        assert received == [HandOff((str(tmp_path / "x.txt"),))]
        assert os.stat(socket_file).st_mode & 0o077 == 0  # other users cannot connect
        instance.close()
    finally:
        left_over.close()
        Path(socket_file).unlink(missing_ok=True)


@posix_only
def test_listen_never_takes_the_name_of_a_live_primary(primary):
    """Two primaries would each load a model; the second could also orphan the first."""
    primary()
    assert SingleInstance().listen(lambda message: None) is False


def test_claim_hands_off_to_a_running_primary(qtbot, primary, tmp_path: Path, monkeypatch):
    _, received = primary()
    monkeypatch.chdir(tmp_path)
    result: list[bool] = []
    thread = threading.Thread(
        target=lambda: result.append(SingleInstance().claim(["doc.pdf"], lambda m: None))
    )
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10_000)
    assert result == [False]
    assert received == [HandOff((str(tmp_path / "doc.pdf"),))]


def test_a_primary_that_does_not_answer_is_reported(qtbot, monkeypatch):
    monkeypatch.setattr(single_instance, "ACK_TIMEOUT_MS", 300)
    mute = QLocalServer()  # accepts connections (the kernel does), never reads or answers
    assert mute.listen(server_name())
    try:
        with pytest.raises(NotAnswering, match="already running but did not answer"):
            SingleInstance().send(["a.pdf"])
    finally:
        mute.close()


def test_the_primary_refuses_what_is_not_a_hand_off(qtbot, primary):
    instance, received = primary()
    for line in (
        b"not json",
        b'{"v": 99, "files": []}',
        b'{"v": 1, "files": "a.pdf"}',
        b'{"v": 1, "files": ["relative.pdf"], "cwd": "/home/me"}',  # senders resolve paths
    ):
        sock = QLocalSocket()
        sock.connectToServer(instance.name)
        assert sock.waitForConnected(1000)
        sock.write(line + b"\n")
        qtbot.waitUntil(lambda s=sock: s.canReadLine(), timeout=5000)
        answer = json.loads(bytes(sock.readLine().data()))
        assert answer["ok"] is False and answer["error"]
        sock.abort()
    assert received == []


def test_server_names_differ_per_user_and_per_profile(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert server_name(a, "ann") != server_name(b, "ann")
    assert server_name(a, "ann") != server_name(a, "bob")
    assert server_name(a, "ann") == server_name(a / ".." / "a", "ann")
    assert len(Path(server_name(a, "ann")).name) < 30  # UNIX socket paths: ~104 bytes in all


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_RUNTIME_DIR is Linux's")
def test_on_linux_the_socket_lives_in_the_users_runtime_dir(tmp_path: Path, monkeypatch):
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert Path(server_name()).parent == runtime
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    assert "/" not in server_name()  # Qt's default then: the temp dir


def _fake_model(monkeypatch) -> list[FakeHost]:
    """run() with the fake model: no GGUF, no llama.cpp; returns the hosts it builds."""
    hosts: list[FakeHost] = []

    def host(model_path, settings) -> FakeHost:
        hosts.append(FakeHost())
        return hosts[-1]

    monkeypatch.setattr(launch, "model_to_load", lambda model, settings: Path("fake.gguf"))
    monkeypatch.setattr(session_host, "SessionHost", host)
    store = Store()
    store.set_app_state("first_run_done", "1")  # no Models dialog (it scans real folders)
    store.close()
    return hosts


def test_a_second_folio_process_opens_its_file_in_the_running_window(
    qtbot, qapp, tmp_path: Path, monkeypatch
):
    """The whole path: run() as primary here, `python -m desktop_app FILE` as a real process."""
    from desktop_app.ui.main_window import MainWindow

    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("The fee is 1,250 euros.", encoding="utf-8")
    second.write_text("The deadline is 1 May.", encoding="utf-8")
    opened_log = tmp_path / "opened.log"
    monkeypatch.setenv("FOLIO_OPENED_LOG", str(opened_log))
    _fake_model(monkeypatch)
    outcome: dict[str, object] = {}

    def drive() -> None:  # runs inside run()'s event loop
        window = next(w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow))
        proc: subprocess.Popen[str] | None = None
        try:
            qtbot.waitUntil(lambda: _documents(window) == [str(first)], timeout=10_000)
            first_chat = window.conversation_id
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "desktop_app", "second.txt"],
                cwd=tmp_path, env=dict(os.environ, PYTHONPATH=_pythonpath()),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
            outcome["seconds"] = time.monotonic() - started
            outcome["returncode"] = proc.returncode
            outcome["output"] = proc.communicate()
            qtbot.waitUntil(lambda: _documents(window) == [str(second)], timeout=10_000)
            outcome["new_chat"] = window.conversation_id != first_chat
            window.close()
            # A closing window takes no documents: the next start opens its own window.
            outcome["listening_after_close"] = SingleInstance().send([])
        except BaseException as exc:  # reported after run() returns
            outcome["error"] = exc
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()  # it did not hand off: it is starting a window of its own
                proc.communicate()
            # Closing the last window ends run(), as for a user. (An extra `quit()` here would
            # leave a Quit event queued that stops every later test's event loop at once.)
            window.close()

    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, drive)
    stuck = QTimer(singleShot=True, interval=60_000, timeout=qapp.quit)  # never hang the run
    stuck.start()
    try:
        assert launch.run([str(first)], None, smoke_test=False) == 0
    finally:
        stuck.stop()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    assert outcome["returncode"] == 0, outcome["output"]
    assert outcome["output"] == ("", "")  # stderr is not a terminal: nothing printed
    assert outcome["seconds"] < 15, "a second start must not load anything heavy"
    assert opened_log.read_text(encoding="utf-8").splitlines() == [str(first), str(second)]
    assert outcome["new_chat"]  # the handed-off file got a chat of its own
    assert outcome["listening_after_close"] is False


def test_the_smoke_test_never_hands_off(qtbot, primary, monkeypatch):
    """`--smoke-test` checks this build; a running Folio answering for it would hide a bug."""
    _, received = primary()
    _fake_model(monkeypatch)
    smoked: list[object] = []

    def smoke(app, window) -> int:
        smoked.append(window)
        window.close()
        return 0

    monkeypatch.setattr(launch, "_smoke", smoke)
    assert launch.run([], None, smoke_test=True) == 0
    assert smoked and received == []


def _documents(window) -> list[str]:
    return [d.path for d in window.store.documents(window.conversation_id or 0)]


def _pythonpath() -> str:
    """The child imports this checkout, plus whatever the test run had on its path."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
