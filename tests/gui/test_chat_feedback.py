"""Feedback at once: what the chat says before it has messages, while an answer has no words
yet, and under an answer that cites nothing; and a document's card as soon as it is dropped.

Real widgets (the window with a fake model), asserting the text a user reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QObject, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.chat.cards import DocState
from desktop_app.core.chat.engine_queue import FLUSH_INTERVAL_S
from desktop_app.core.llm.events import PrefillProgress, ReasoningDelta
from desktop_app.ui.chat_view import ChatView
from desktop_app.ui.documents_panel import card_summary
from desktop_app.ui.main_window import MainWindow
from tests.fixtures.fake_engine import fake_answer
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.pdf_factory import make_pdf

HINT = (
    "Drop a PDF, DOCX, text file or scan here, or choose Open… (Ctrl+O). "
    "Or just type a question below."
)
SHORTCUTS = [
    ("Ctrl+N", "New chat"),
    ("Ctrl+O", "Open a document"),
    ("Ctrl+M", "Choose or download models"),
    ("Ctrl+,", "Settings"),
    ("Esc", "Stop the answer"),
]


class GatedHost(FakeHost):
    """Reads its prompt, then reasons before answering, each step waiting for the test to
    let it go, so every state of the answer block can be looked at."""

    def __init__(self) -> None:
        super().__init__()
        self.gates = [threading.Event() for _ in range(2)]

    def ask(self, question: str, thinking: bool, cancel: threading.Event) -> Iterator[object]:
        yield PrefillProgress(1234, 5000, 617.0, 6.2)
        self.gates[0].wait(10)
        time.sleep(2 * FLUSH_INTERVAL_S)  # the last micro-batch (the queue throttles progress)
        yield PrefillProgress(5000, 5000, 625.0, 0.0)
        yield ReasoningDelta("The rent is on page 2, ")
        self.gates[1].wait(10)
        yield from fake_answer("The rent is 1,200 euros.", delay_s=0.001)(cancel)


class SlowOpen(FakeHost):
    """A session that takes a moment to open, as a model counting a long document does."""

    def open(self, resolved, turns, cancel=None):
        if resolved.documents:
            time.sleep(0.5)
        return super().open(resolved, turns, cancel)


def _attach(qtbot, window: MainWindow, path: Path) -> None:
    window.controller.add_files([str(path)])
    cid = window.conversation_id
    qtbot.waitUntil(lambda: len(window.store.documents(cid)) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not (window.controller.reading or window.preparing), timeout=10_000)


def test_an_empty_chat_says_what_to_do_with_the_shortcuts_until_it_has_messages(
    qtbot, make_window
) -> None:
    window = make_window()
    window.show()
    empty = window.chat.empty
    assert empty.isVisible() and window.chat.showing_hint()
    assert empty.hint.text() == HINT
    assert empty.shortcuts == SHORTCUTS
    window.controller.send("What is the fee?")
    assert not empty.isVisible()  # the question is on screen at once
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    window.controller.new_conversation()
    assert empty.isVisible()  # a new chat shows it again


def test_no_empty_progress_box_before_the_first_answer(qtbot, make_window) -> None:
    window = make_window()
    window.show()
    meter = window.context_meter
    assert not meter.isVisible()  # it would be an empty box: nothing is counted yet
    assert window.documents.progress_text() == ""  # nor an empty progress row
    window.controller.send("What is the fee?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    assert meter.isVisible()
    used = window.store.messages(window.conversation_id)[-1].stats
    tokens = used["prompt_tokens"] + used["decode_tokens"]
    assert meter.text() == f"Context: {tokens:,} / 8,192 tokens"


def test_the_answer_says_it_reads_the_document_then_thinks_until_its_words(
    qtbot, make_window, tmp_path: Path
) -> None:
    host = GatedHost()
    window = make_window(host)
    window.show()
    lease = tmp_path / "lease.pdf"
    lease.write_bytes(make_pdf(["The rent is 1,200 euros per month."]))
    _attach(qtbot, window, lease)
    window.controller.send("What is the rent?")
    answer = window.chat.message(1)
    label = answer.state_label
    qtbot.waitUntil(label.isVisible)  # the answer block shows at once, not a bare "Folio"
    assert label.text().startswith("Reading the document…") and not answer.body.isVisible()
    expected = "Reading the document… 1,234 / 5,000 tokens · 617 tok/s · 6 s left"
    qtbot.waitUntil(lambda: label.text() == expected, timeout=5_000)
    assert label.isVisible()
    assert window.documents.progress_text() == ""  # said once, where the user looks
    host.gates[0].set()  # the prompt is read; reasoning (collapsed) follows
    qtbot.waitUntil(lambda: label.text() == "Thinking…", timeout=5_000)
    assert label.isVisible() and not answer.body.isVisible()
    host.gates[1].set()
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    assert not label.isVisible()
    assert answer.body.toPlainText() == "The rent is 1,200 euros."


def test_without_documents_the_answer_thinks_at_once(qtbot) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    view.show()
    view.begin_answer(documents=0)
    label = view.message(-1).state_label
    assert label.isVisible() and label.text() == "Thinking…"
    view.show_reading(PrefillProgress(12, 40), documents=0)
    assert label.text() == "Reading your question… 12 / 40 tokens"
    view.append_delta("Hello.", "")
    assert not view.show_reading(PrefillProgress(40, 40), documents=0)  # words came first
    qtbot.waitUntil(lambda: not label.isVisible())


def test_an_answer_without_citations_says_so_when_documents_are_in_view(
    qtbot, make_window, tmp_path: Path
) -> None:
    window = make_window(FakeHost(answers=["The rent is 1,200 euros.",
                                           'It is [Page 1: "1,200 euros"].']))  # fmt: skip
    window.show()
    lease = tmp_path / "lease.pdf"
    lease.write_bytes(make_pdf(["The rent is 1,200 euros per month."]))
    _attach(qtbot, window, lease)
    window.controller.send("What is the rent?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    note = window.chat.message(1).citations_label
    assert note.isVisible() and note.text() == "No citations — ask for page references"
    window.controller.send("Where does it say so?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    summary = window.chat.message(3).citations_label
    assert summary.text() == "1 citation, all found in the document"
    # The note is kept with the answer: reopening the chat shows it again.
    window.controller.open_conversation(window.conversation_id)
    assert window.chat.message(1).citations_label.text() == (
        "No citations — ask for page references"
    )


def test_an_answer_without_documents_gets_no_citation_note(qtbot, make_window) -> None:
    window = make_window(FakeHost(answers=["Hello there."]))
    window.show()
    window.controller.send("Hi")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    note = window.chat.message(1).citations_label
    assert not note.isVisible() and note.text() == ""


class _PaintWatch(QObject):
    """When a widget (`only`, else any document card) is first painted: the moment the
    user can see it."""

    def __init__(self, only: QObject | None = None) -> None:
        super().__init__()
        self.only = only
        self.painted_at: float | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.Paint and self.painted_at is None:
            if watched is self.only or (
                self.only is None and type(watched).__name__ == "_CardWidget"
            ):
                self.painted_at = time.perf_counter()
        return False


def _drop(panel, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    at = QPointF(panel.rect().center())
    panel.dropEvent(QDropEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                               Qt.KeyboardModifier.NoModifier))  # fmt: skip


@pytest.fixture
def big_text(tmp_path: Path) -> Path:
    big = tmp_path / "big.txt"  # about 2 MB
    big.write_text("A line of a long contract about rent and notice periods.\n" * 36_000)
    return big


def test_a_dropped_file_shows_its_card_within_half_a_second(
    qtbot, make_window, big_text: Path
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    watch = _PaintWatch()
    app = QApplication.instance()
    app.installEventFilter(watch)
    try:
        dropped = time.perf_counter()
        _drop(window.documents, big_text)
        qtbot.waitUntil(lambda: watch.painted_at is not None, timeout=5_000)
    finally:
        app.removeEventFilter(watch)
    assert watch.painted_at - dropped < 0.5
    card = window.documents.card(f"loading:{big_text}")
    assert (card.name, card_summary(card)) == ("big.txt", "Reading…")


def test_a_dropped_file_keeps_a_card_until_it_is_in_view(
    qtbot, make_window, big_text: Path
) -> None:
    """Seen under Xvfb: the card showed at once, went away when the file was read (0.7 s)
    and came back 3 s later when the session opened; the "Drop PDF…" hint meanwhile."""
    window = make_window(SlowOpen())
    window.show()
    qtbot.waitExposed(window)
    panel = window.documents
    hint = _PaintWatch(panel._empty)
    panel._empty.installEventFilter(hint)
    _drop(panel, big_text)
    cid = window.conversation_id
    qtbot.waitUntil(lambda: len(window.store.documents(cid)) == 1, timeout=30_000)
    sha = window.store.documents(cid)[0].sha256
    qtbot.waitUntil(lambda: getattr(panel.card(sha), "state", None) is DocState.READY,
                    timeout=30_000)  # fmt: skip
    assert hint.painted_at is None  # the hint was never drawn again
