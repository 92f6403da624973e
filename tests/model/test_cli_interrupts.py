"""`folio ask` when a file is refused or the user presses Ctrl+C, as a user runs it.

A refused file ends the run with its line before any model loads; Ctrl+C ends the whole run
within the issue's second in every phase (extraction, model load, reading the documents into
the model, the answer), with a stopped answer kept, no further question asked and the
history as consistent as after a crash at worst; a second Ctrl+C ends it at once; and
nothing printed while a model loads on the engine thread is lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.history.store import Store
from tests.fixtures.folio_process import FolioProcess, alive
from tests.fixtures.pdf_factory import make_long_pdf
from tests.support import ROOT, run_folio

pytestmark = pytest.mark.model


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


#: The issue's budget is 1 s from Ctrl+C to the end; on this 2-core box, shared with other
#: runs, a process's own exit (the interpreter winding down, freeing a model) adds up to a
#: few tenths: 1.5 s still fails every path that waits for a phase to finish by itself.
EXIT_LIMIT_S = 1.5


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


def _history() -> tuple[list, list]:
    """The run's one conversation: its messages and its documents."""
    store = Store()
    [conversation] = store.list_conversations()
    return store.messages(conversation.id), store.documents(conversation.id)


def _interrupted_while_parsing(
    tmp_path: Path, folio_home: Path, *args: str
) -> tuple[FolioProcess, list[int], float]:
    """`folio ARGS` ("{pdf}" stands for a 3,000-page PDF, about 5 s of parsing here), Ctrl+C
    half a second after the reader's child began: the run, that child, the time to exit."""
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(make_long_pdf(3000))
    run = FolioProcess(ROOT, folio_home, *(a.replace("{pdf}", str(pdf)) for a in args))
    deadline = time.monotonic() + 60
    while not (reader := run.children()):  # the reader's child: the parse has begun
        assert time.monotonic() < deadline and run.popen.poll() is None, run.stderr
        time.sleep(0.05)
    time.sleep(0.5)
    return run, reader, run.exit_after(run.interrupt())


def test_ctrl_c_while_a_300_page_pdf_is_extracted_ends_the_run(tmp_path: Path, folio_home: Path):
    """Seen: Ctrl+C in the first seconds of `folio ask big.pdf` ignored for 40-100 s."""
    run, reader, took = _interrupted_while_parsing(
        tmp_path, folio_home, "ask", "{pdf}", "-q", "What is the fee for item 7?"
    )
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert run.stdout == "" and run.stderr == "", "nothing said but the shell's own ^C"
    assert alive(reader) == [], "the reader's child was left parsing"
    assert _history() == ([], []), "nothing attached, nothing asked"


def test_ctrl_c_while_the_document_is_read_into_the_model_ends_the_run(
    folio_home: Path, long_document: Path
):
    settings.save(settings.Settings(max_answer_tokens=64))
    run = FolioProcess(ROOT, folio_home, "ask", str(long_document), "-q", "What is the rent?",
                       "-q", "Who repairs the roof?")  # fmt: skip
    # Printed when the session opens, after the plan: the pre-read of the document follows.
    run.wait_for("Note: the demo model", timeout_s=120)
    assert "Documents: whole document in view" in run.stderr
    time.sleep(1.0)  # well into the reading (several seconds here)
    took = run.exit_after(run.interrupt())
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert run.stdout == "", "no question is answered after Ctrl+C"
    messages, documents = _history()
    assert messages == [] and [d.title for d in documents] == ["report.txt"]


def test_ctrl_c_mid_answer_keeps_it_and_asks_nothing_more(tmp_path: Path, folio_home: Path):
    settings.save(settings.Settings(max_answer_tokens=2000))
    notes = tmp_path / "notes.txt"
    notes.write_text("The rent is 1,200 euros a month. The landlord repairs the roof.\n")
    run = FolioProcess(ROOT, folio_home, "ask", str(notes), "-q",
                       "Write a very long story about a tenant, a landlord and a roof.",
                       "-q", "Who repairs the roof?")  # fmt: skip
    run.wait_for_answer(120)
    took = run.exit_after(run.interrupt())
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert run.stderr.count("[stopped]") == 1, run.stderr
    # Saved as the user saw it, and the second question never asked.
    messages, _ = _history()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "Write a very long story about a tenant, a landlord and a roof."
    assert messages[1].content.strip() == run.stdout.strip()
    assert messages[1].finish_reason == "cancelled"


#: `folio ask` whose engine is stuck in a call that cannot be interrupted, as llama.cpp is
#: while it loads a model's weights (`open`) or inside one long decode (`ask`): it says when
#: the call began, then ignores its cancel event for a minute.
STUCK_ENGINE = """
import sys, time
from desktop_app import app, cli_chat

class StuckHost(cli_chat.SessionHost):
    def open(self, resolved, turns, cancel=None):
        if "{phase}" == "load":
            print("stuck in load", file=sys.stderr, flush=True)
            time.sleep(60)
        return super().open(resolved, turns, cancel)

    def ask(self, question, thinking, cancel):
        print("stuck in answer", file=sys.stderr, flush=True)
        time.sleep(60)
        yield from ()

cli_chat.SessionHost = StuckHost
sys.exit(app.main(["ask", "--model", sys.argv[1], "-q", "Hello?", "-q", "And then?"]))
"""


@pytest.mark.parametrize(("phase", "presses", "limit_s"), [
    ("load", 1, EXIT_LIMIT_S), ("answer", 1, EXIT_LIMIT_S), ("answer", 2, 0.5),
])  # fmt: skip
def test_ctrl_c_does_not_wait_for_an_engine_that_cannot_stop(
    tmp_path: Path,
    folio_home: Path,
    smollm2_gguf: Path,
    phase: str,
    presses: int,
    limit_s: float,
):
    """The first Ctrl+C ends the run within the budget even then, with the history as a
    crash would leave it (the question saved, its answer interrupted); a second ends it at
    once."""
    script = tmp_path / "stuck.py"
    script.write_text(STUCK_ENGINE.replace("{phase}", phase))
    run = FolioProcess(ROOT, folio_home, str(smollm2_gguf), python=str(script))
    run.wait_for(f"stuck in {phase}", timeout_s=120)
    took = run.exit_after(run.interrupt(presses))
    assert took < limit_s, took
    assert run.popen.returncode == 130, run.stderr
    messages, _ = _history()
    if phase == "load":
        assert messages == []
    else:
        assert [(m.role, m.content, m.finish_reason) for m in messages] == [
            ("user", "Hello?", None), ("assistant", "", None),
        ]  # fmt: skip


def test_quit_while_a_huge_one_line_text_is_prepared_stops_at_once(
    tmp_path: Path, folio_home: Path, smollm2_gguf: Path
):
    """Counting and indexing a 30 MB text with no line breaks takes the demo model's
    tokenizer about 15 s on the engine thread; Quit (and Ctrl+C) must not wait for it."""
    from desktop_app.core.chat.controller import ChatController
    from desktop_app.core.chat.dispatch import QueueDispatcher
    from desktop_app.core.chat.session_host import SessionHost
    from tests.fixtures.strict_view import StrictView

    log = tmp_path / "export.log"
    log.write_text(" ".join(f"event{i % 1009} ok" for i in range(2_600_000)))
    dispatcher = QueueDispatcher()
    host = SessionHost(smollm2_gguf, settings.Settings())
    controller = ChatController(Store(), host, StrictView(), dispatcher)
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


#: `folio summarize` whose summary is stuck in a call (a decode of a 9B model: tens of
#: seconds) during which the main thread, were it the one waiting there, could run no
#: Ctrl+C handler.
STUCK_SUMMARY = """
import sys, time
from desktop_app import app
from desktop_app.core.chat import summarize

def stuck(self, doc, progress=None, cancel=None):
    print("stuck in summarize", file=sys.stderr, flush=True)
    time.sleep(60)

summarize.Summarizer.summarize = stuck
sys.exit(app.main(["summarize", "--model", sys.argv[1], sys.argv[2]]))
"""


def test_ctrl_c_ends_folio_summarize_stuck_in_a_decode(
    tmp_path: Path, folio_home: Path, smollm2_gguf: Path
):
    script, notes = tmp_path / "stuck.py", tmp_path / "notes.txt"
    script.write_text(STUCK_SUMMARY)
    notes.write_text("The rent is 1,200 euros a month.\n")
    run = FolioProcess(ROOT, folio_home, str(smollm2_gguf), str(notes), python=str(script))
    run.wait_for("stuck in summarize", timeout_s=120)
    took = run.exit_after(run.interrupt())
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert run.stderr.splitlines()[-1] == "0 summarized, 0 unchanged, 0 failed (stopped)"


def test_ctrl_c_while_summarize_extracts_is_a_stop_not_a_failure(
    tmp_path: Path, folio_home: Path, smollm2_gguf: Path
):
    """The reader's child is stopped with the run, and the file is not reported as failed
    (the terminal's Ctrl+C reaches the child too: it ignores it, rather than die and look
    like a reader that crashed)."""
    run, reader, took = _interrupted_while_parsing(
        tmp_path, folio_home, "summarize", "--model", str(smollm2_gguf), "{pdf}"
    )
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert run.stderr.splitlines() == ["0 summarized, 0 unchanged, 0 failed (stopped)"]
    assert alive(reader) == [], "the reader's child was left parsing"
