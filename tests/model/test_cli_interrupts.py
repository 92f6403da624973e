"""`folio ask` when a file is refused or the user presses Ctrl+C, as a user runs it.

A refused file ends the run with its line before any model loads; Ctrl+C ends the whole run
in every phase (reading, preparing, answering), with a stopped answer kept and no further
question asked; and nothing printed while a model loads on the engine thread is lost.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.history.store import Store
from tests.support import ROOT, run_folio

pytestmark = pytest.mark.model


def _folio(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, FOLIO_HOME=str(home), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_app", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _read_until(stream, wanted: str, timeout_s: float) -> str:
    """What `stream` printed up to and including the first line containing `wanted`."""
    seen, deadline = "", time.monotonic() + timeout_s
    while wanted not in seen:
        assert time.monotonic() < deadline, f"no {wanted!r} within {timeout_s} s: {seen!r}"
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 4096).decode("utf-8", "replace")
            assert chunk, f"the stream ended before {wanted!r}: {seen!r}"
            seen += chunk
    return seen


def test_a_refused_file_is_said_before_any_model_loads(
    tmp_path: Path, folio_home: Path, smollm2_gguf: Path
):
    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    # -v logs everything to stderr, llama.cpp's loader lines included: none may appear.
    out = run_folio("-v", "ask", "--model", str(smollm2_gguf), str(fifo), "-q", "hi",
                    home=folio_home)  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "folio: notes.txt is not a regular file" in out.stderr, out.stderr
    assert "llama_model_loader" not in out.stderr
    assert "Loading " not in out.stderr and "load_tensors" not in out.stderr


def test_what_another_thread_prints_during_a_model_load_is_not_lost(
    tmp_path: Path, smollm2_gguf: Path
):
    """llama-cpp-python pointed fds 1 and 2 at the null device for the whole process while
    a model loaded: a line printed meanwhile by another thread vanished. llama.cpp logs
    during the load, so a log handler prints exactly then, by print() and by os.write()."""
    script = textwrap.dedent(f"""
        import logging, os, sys
        from pathlib import Path
        from desktop_app.core.llm.engine import Engine, EngineConfig

        class Printer(logging.Handler):
            done = False
            def emit(self, record):  # the loader's first line: inside llama_model_load
                if not Printer.done and "llama_model_loader" in record.getMessage():
                    Printer.done = True
                    print("printed while loading", file=sys.stderr, flush=True)
                    print("stdout while loading", flush=True)
                    os.write(2, b"written while loading\\n")

        llama_log = logging.getLogger("llama.cpp")
        llama_log.setLevel(logging.DEBUG)
        llama_log.addHandler(Printer())
        engine = Engine.load(EngineConfig(model_path=Path({str(smollm2_gguf)!r}), n_ctx=512))
        engine.close()
        assert Printer.done
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "printed while loading" in out.stderr
    assert "written while loading" in out.stderr
    assert "stdout while loading" in out.stdout


@pytest.fixture
def long_document(tmp_path: Path) -> Path:
    """About 5,000 tokens: whole in the demo model's 8,192-token view (so it is pre-read as
    soon as the session opens), which takes it several seconds on 2 cores."""
    doc = tmp_path / "report.txt"
    paragraph = (
        "The tenant shall pay the rent of 1,200 euros on the first day of each month "
        "to the account named in clause 4, and the landlord shall repair the roof. "
    )
    doc.write_text("\n\n".join(f"Section {i}. {paragraph * 3}" for i in range(40)))
    return doc


def test_ctrl_c_while_the_document_is_pre_read_ends_the_run(folio_home: Path, long_document: Path):
    settings.save(settings.Settings(max_answer_tokens=64))
    run = _folio(folio_home, "ask", str(long_document), "-q", "What is the rent?",
                 "-q", "Who repairs the roof?")  # fmt: skip
    # The header is printed when the session opens; the model reads the document after it.
    # Printed when the session opens, after the plan: the pre-read of the document follows.
    opened = _read_until(run.stderr, "Note: the demo model", 120)
    assert "Documents: whole document in view" in opened
    run.send_signal(signal.SIGINT)
    start = time.monotonic()
    stdout, _ = run.communicate(timeout=30)
    assert time.monotonic() - start < 5
    assert run.returncode == 130
    assert stdout == "", "no question is answered after Ctrl+C"


def test_ctrl_c_mid_answer_keeps_it_and_asks_nothing_more(tmp_path: Path, folio_home: Path):
    settings.save(settings.Settings(max_answer_tokens=2000))
    notes = tmp_path / "notes.txt"
    notes.write_text("The rent is 1,200 euros a month. The landlord repairs the roof.\n")
    run = _folio(folio_home, "ask", str(notes), "-q",
                 "Write a very long story about a tenant, a landlord and a roof.",
                 "-q", "Who repairs the roof?")  # fmt: skip
    ready, _, _ = select.select([run.stdout], [], [], 120)
    assert ready, "no answer began"
    first = os.read(run.stdout.fileno(), 4096).decode()
    run.send_signal(signal.SIGINT)
    start = time.monotonic()
    rest, stderr = run.communicate(timeout=30)
    assert time.monotonic() - start < 5
    assert run.returncode == 130, stderr
    assert stderr.count("[stopped]") == 1, stderr
    answer = (first + rest).strip()
    # Saved as the user saw it, and the second question never asked.
    store = Store()
    [conversation] = store.list_conversations()
    messages = store.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "Write a very long story about a tenant, a landlord and a roof."
    assert messages[1].content.strip() == answer
    assert messages[1].finish_reason == "cancelled"


def test_quit_while_a_huge_one_line_text_is_prepared_stops_at_once(
    tmp_path: Path, folio_home: Path, smollm2_gguf: Path
):
    """Counting and indexing a 30 MB text with no line breaks takes the demo model's
    tokenizer about 15 s on the engine thread; Quit (and Ctrl+C) must not wait for it."""
    from desktop_app.core.chat.controller import ChatController
    from desktop_app.core.chat.dispatch import QueueDispatcher
    from desktop_app.core.chat.session_host import SessionHost
    from tests.unit.test_controller import RecordingView

    log = tmp_path / "export.log"
    log.write_text(" ".join(f"event{i % 1009} ok" for i in range(2_600_000)))
    dispatcher = QueueDispatcher()
    host = SessionHost(smollm2_gguf, settings.Settings())
    controller = ChatController(Store(), host, RecordingView(), dispatcher)
    controller.new_conversation([str(log)])
    deadline = time.monotonic() + 120
    while controller.reading:
        assert time.monotonic() < deadline
        dispatcher.pump(0.05)
    assert controller.preparing
    time.sleep(1.0)  # well into the counting
    start = time.monotonic()
    assert controller.shutdown(timeout_s=5.0) is True
    assert time.monotonic() - start < 2.0
