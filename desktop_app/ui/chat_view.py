"""The conversation transcript: one widget per message in a scroll area that follows the answer.

Each message is its own auto-height `QTextBrowser`, so a streamed answer re-renders only itself:
a transcript of finished 100 KB answers costs nothing per tick. Deltas are only buffered; a
50 ms single-shot timer redraws the streaming message at most 20 times a second, because
Markdown layout, not the model, is what would otherwise eat the UI thread. The Markdown itself
is turned into HTML by `chat_markdown`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.chat.citations import marks_of
from desktop_app.core.llm.events import PrefillProgress
from desktop_app.ui.chat_empty import EmptyChat
from desktop_app.ui.chat_message import THINKING, MessageWidget
from desktop_app.ui.documents_panel import format_progress

__all__ = ["ChatView", "MessageWidget", "waiting_text"]

#: ≤ 20 Hz, matching the engine queue's coalescing: smooth to read, cheap to lay out.
REDRAW_INTERVAL_MS = 50


def waiting_text(progress: PrefillProgress | None, documents: int) -> str:
    """What an answer says before its first words: "Reading the document… 1,234 / 5,000
    tokens · 85 tok/s · 37 s left" while the prompt is read (the documents are most of it),
    "Thinking…" once it is, or before any progress when there is no document to read."""
    if progress is None and documents == 0:
        return THINKING
    if progress is not None and progress.total > 0 and progress.done >= progress.total:
        return THINKING
    what = {0: "Reading your question…", 1: "Reading the document…"}.get(
        documents, "Reading the documents…"
    )
    if progress is None:
        return what
    return format_progress(
        progress.done, progress.total, progress.tokens_per_s, progress.eta_s, what, "tokens"
    )


class ChatView(QWidget):
    """The transcript. It keeps no conversation state of its own beyond what it shows: the
    main window owns the conversation and calls `set_messages` to switch or reload it."""

    copy_requested = Signal(int)
    #: The message's index: save that answer (and its question) as Markdown.
    export_requested = Signal(int)
    regenerate_requested = Signal()
    continue_requested = Signal()
    edit_requested = Signal()
    citation_clicked = Signal(object)  # SourceRef

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._messages: list[MessageWidget] = []
        self._streaming: MessageWidget | None = None
        self._answer_parts: list[str] = []
        self._reasoning_parts: list[str] = []
        self._redraws = 0
        self._follow = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._redraw_streaming)
        self._restyle_timer = QTimer(self)
        self._restyle_timer.setSingleShot(True)
        self._restyle_timer.setInterval(0)
        self._restyle_timer.timeout.connect(self._restyle)

        self._container = QWidget()
        self._container.setBackgroundRole(QPalette.ColorRole.Base)
        self._container.setAutoFillBackground(True)
        self._column = QVBoxLayout(self._container)
        self._column.setContentsMargins(16, 16, 16, 16)
        self._column.setSpacing(12)
        self._column.addStretch(1)
        self._scroll = QScrollArea()
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setWidgetResizable(True)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setWidget(self._container)
        bar = self._scroll.verticalScrollBar()
        bar.valueChanged.connect(lambda value: setattr(self, "_follow", value >= bar.maximum() - 8))
        bar.rangeChanged.connect(lambda _low, high: self._follow and bar.setValue(high))
        #: What to do first, in place of the transcript while the chat has no messages.
        self.empty = EmptyChat()
        self._pages = QStackedWidget()
        self._pages.addWidget(self.empty)
        self._pages.addWidget(self._scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._pages)

    def set_messages(
        self, messages: Sequence[tuple[str, str, str, dict | None, str | None]]
    ) -> None:
        """Replace the transcript, e.g. on switching conversation; each message renders once.
        Any role but "user" is shown as the assistant's."""
        self._stop_streaming()
        for widget in self._messages:
            widget.hide()  # deleteLater alone would leave it on screen until the next loop
            widget.deleteLater()
        self._messages = []
        for role, content, reasoning, stats, finish_reason in messages:
            widget = self._add(role)
            widget.set_text(content, reasoning)
            widget.set_outcome(stats, finish_reason)
        self._refresh_actions()

    def add_user_message(self, text: str) -> None:
        self._add("user").set_text(text)
        self._refresh_actions()

    def begin_answer(self, documents: int = 0) -> None:
        """Add the assistant message that `append_delta` will fill; until its first words it
        says what the model is doing (`waiting_text`), for a chat with `documents` in view."""
        if self._streaming is not None:
            self.end_answer(None, "cancelled")
        self._streaming = self._add("assistant")
        self._streaming.set_waiting(waiting_text(None, documents))
        self._streaming.set_text("", streaming=True)
        self._refresh_actions()

    def show_reading(self, progress: PrefillProgress, documents: int) -> bool:
        """The prompt of the streaming answer is being read: its block says how far
        ("Reading the document… 1,234 / 5,000 tokens"). False when no answer waits for its
        first words (the caller shows the progress elsewhere)."""
        widget = self._streaming
        if widget is None or widget.content or any(self._answer_parts):
            return False
        widget.set_waiting(waiting_text(progress, documents))
        return True

    def append_delta(self, answer: str, reasoning: str) -> None:
        """Only buffers: the timer redraws, so a burst of deltas costs one layout."""
        if self._streaming is None or not (answer or reasoning):
            return
        self._answer_parts.append(answer)
        self._reasoning_parts.append(reasoning)
        if not self._timer.isActive():
            self._timer.start()

    def mark_streaming_citations(self, found: dict) -> None:
        """Checked citations of the streaming answer: drawn with the next redraw tick."""
        if self._streaming is not None:
            self._streaming.checks = marks_of({"citations": found})
            if not self._timer.isActive():
                self._timer.start()

    def end_answer(self, stats: dict | None, finish_reason: str) -> None:
        """Final render of the streamed answer, with its stats and any cut-off notice."""
        widget = self._streaming
        if widget is None:
            return
        self._redraw_streaming(streaming=False)
        widget.set_outcome(stats, finish_reason)
        self._stop_streaming()
        self._refresh_actions()

    def message_count(self) -> int:
        return len(self._messages)

    def showing_hint(self) -> bool:
        """Whether the empty chat's hint is what the user sees instead of a transcript."""
        return self._pages.currentWidget() is self.empty

    def message(self, index: int) -> MessageWidget:
        """The widget of message `index` (negative counts from the end), for callers and tests
        that need its text or buttons."""
        return self._messages[index]

    def redraw_count(self) -> int:
        return self._redraws

    def _add(self, role: str) -> MessageWidget:
        widget = MessageWidget(role)
        widget.copy_clicked.connect(lambda: self._copy(widget))
        widget.export_clicked.connect(
            lambda: self.export_requested.emit(self._messages.index(widget))
        )
        widget.regenerate_clicked.connect(self.regenerate_requested)
        widget.continue_clicked.connect(self.continue_requested)
        widget.edit_clicked.connect(self.edit_requested)
        widget.citation_clicked.connect(self.citation_clicked)
        self._column.insertWidget(self._column.count() - 1, widget)
        self._messages.append(widget)
        self._follow = True  # a new message is the user's own doing: show it
        return widget

    def _redraw_streaming(self, *, streaming: bool = True) -> None:
        widget = self._streaming
        if widget is None:
            return
        self._timer.stop()
        answer = "".join(self._answer_parts)
        reasoning = "".join(self._reasoning_parts)
        self._answer_parts, self._reasoning_parts = [answer], [reasoning]
        started = time.perf_counter()
        widget.set_text(answer, reasoning, streaming=streaming)
        self._redraws += 1
        # A huge answer can take longer to lay out than a tick: back off so that redrawing
        # never takes more than a fifth of the UI thread's time.
        spent_ms = (time.perf_counter() - started) * 1000
        self._timer.setInterval(max(REDRAW_INTERVAL_MS, round(spent_ms * 4)))

    def _stop_streaming(self) -> None:
        self._timer.stop()
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._streaming = None
        self._answer_parts, self._reasoning_parts = [], []

    def _refresh_actions(self) -> None:
        """Regenerate only on a final, finished answer; Edit only on the latest question.
        A chat without messages shows what to do instead."""
        self._pages.setCurrentWidget(self._scroll if self._messages else self.empty)
        last_user = max((i for i, m in enumerate(self._messages) if m.role == "user"), default=-1)
        count = len(self._messages)
        for i, widget in enumerate(self._messages):
            widget.set_actions(
                regenerate=widget.role != "user" and i == count - 1 and not widget.streaming,
                edit=i == last_user and i >= count - 2,
            )

    def _copy(self, widget: MessageWidget) -> None:
        QApplication.clipboard().setText(widget.content)
        self.copy_requested.emit(self._messages.index(widget))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # Deferred: this widget hears of a new palette before its children have resolved it.
            self._restyle_timer.start()

    def _restyle(self) -> None:
        for widget in self._messages:
            widget.restyle()
