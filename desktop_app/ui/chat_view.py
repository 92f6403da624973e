"""The conversation transcript: one widget per message in a scroll area that follows the answer.

Each message is its own auto-height `QTextBrowser`, so a streamed answer re-renders only itself:
a transcript of finished 100 KB answers costs nothing per tick. Deltas are only buffered; a
50 ms single-shot timer redraws the streaming message at most 20 times a second, because
Markdown layout, not the model, is what would otherwise eat the UI thread. The Markdown itself
is turned into HTML by `chat_markdown`.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.chat_markdown import (
    STYLE,
    Theme,
    citation_checks,
    format_stats,
    mix,
    render_markdown,
)
from desktop_app.ui.source_ref import SourceRef

#: ≤ 20 Hz, matching the engine queue's coalescing: smooth to read, cheap to lay out.
REDRAW_INTERVAL_MS = 50

NOTICES = {
    "cancelled": "Stopped",
    "length": "Cut off: answer length limit reached",
    "context_full": "Cut off: the context is full",
    "error": "Failed: the answer stopped with an error",
    "interrupted": "Interrupted: Folio closed before this answer finished",
}
#: Outcomes after which an answer can go on from where it stopped (Continue).
CONTINUABLE = frozenset({"cancelled", "length", "error", "interrupted"})


class _AutoHeightBrowser(QTextBrowser):
    """A text browser exactly as tall as its document, so the outer scroll area does all the
    scrolling: nested scrollbars in a transcript are a usability trap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setOpenLinks(False)
        self.viewport().setAutoFillBackground(False)  # the message's background shows through
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def _fit(self) -> None:
        height = math.ceil(self.document().size().height()) + 2 * self.frameWidth()
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit()

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        event.ignore()  # let the transcript scroll, not this scrollbar-less browser


def _muted_label(text: str = "", *, italic: bool = False) -> QLabel:
    label = QLabel(text)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setWordWrap(True)
    font = label.font()
    font.setItalic(italic)
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


def _link_button(text: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class MessageWidget(QFrame):
    """One message: body, and for the assistant a collapsible reasoning block, a cut-off
    notice, a stats line and action buttons. The view decides which actions are shown."""

    copy_clicked = Signal()
    export_clicked = Signal()
    regenerate_clicked = Signal()
    continue_clicked = Signal()
    edit_clicked = Signal()
    citation_clicked = Signal(object)  # SourceRef

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.finish_reason: str | None = None
        self.content = ""
        self.reasoning = ""
        self.streaming = False
        self.code_blocks: list[str] = []
        #: Verdicts on the answer's citations once it has been checked, by citation text.
        self.checks: dict[str, Mapping[str, str]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 6)
        layout.setSpacing(4)
        title = QLabel("You" if role == "user" else "Folio")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)

        self.reasoning_toggle = QToolButton()
        self.reasoning_toggle.setText("Reasoning")
        self.reasoning_toggle.setAutoRaise(True)
        self.reasoning_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reasoning_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.reasoning_toggle.clicked.connect(
            lambda: self.set_reasoning_shown(self.reasoning_view.isHidden())
        )
        self.reasoning_view = _AutoHeightBrowser()
        self.thinking_label = _muted_label("Thinking…", italic=True)
        self.body = _AutoHeightBrowser()
        self.body.anchorClicked.connect(self._on_anchor)
        self.notice_label = _muted_label(italic=True)
        for widget in (self.reasoning_toggle, self.reasoning_view, self.thinking_label):
            widget.hide()
            layout.addWidget(widget)
        layout.addWidget(self.body)
        layout.addWidget(self.notice_label)
        self.notice_label.hide()

        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        self.stats_label = _muted_label()
        self.copy_button = _link_button("Copy")
        self.regenerate_button = _link_button("Regenerate")
        self.continue_button = _link_button("Continue")
        self.edit_button = _link_button("Edit")
        self.export_button = _link_button("Export…")
        self.export_button.setToolTip("Save the question, this answer and its checked citations "
                                      "as Markdown")  # fmt: skip
        footer.addWidget(self.stats_label, 1)
        for button, signal in (
            (self.copy_button, self.copy_clicked),
            (self.export_button, self.export_clicked),
            (self.continue_button, self.continue_clicked),
            (self.regenerate_button, self.regenerate_clicked),
            (self.edit_button, self.edit_clicked),
        ):
            button.clicked.connect(signal)
            button.hide()
            footer.addWidget(button)
        layout.addLayout(footer)
        for label in (title, self.thinking_label, self.notice_label, self.stats_label):
            label.setContentsMargins(2, 0, 0, 0)  # line up with the browsers' document margin
        self.copy_button.show()
        if role == "user":
            # Explicit: a child inherits the transcript's Base role, which would hide the tint.
            self.setBackgroundRole(QPalette.ColorRole.Window)
            self.setAutoFillBackground(True)
        self._apply_palette()

    def set_text(self, content: str, reasoning: str = "", *, streaming: bool = False) -> None:
        """Re-render the whole message: called once per finished message, once per tick while
        it streams, and when the theme changes (colours are baked into the HTML)."""
        self.content, self.reasoning, self.streaming = content, reasoning, streaming
        theme = Theme.of(self.palette())
        if self.role == "user":
            self.body.setPlainText(content)
        else:
            body_html, self.code_blocks = render_markdown(content, self.palette(), self.checks)
            self.body.setHtml(f"<html><head>{STYLE}</head><body>{body_html}</body></html>")
        self.body.setVisible(bool(content) or not streaming)
        self.reasoning_toggle.setVisible(bool(reasoning))
        muted = f'<p style="color:{theme.muted};">'
        self.reasoning_view.setHtml(f"{STYLE}{muted}{html.escape(reasoning.strip())}</p>")
        self.thinking_label.setVisible(streaming and bool(reasoning) and not content)
        self.copy_button.setVisible(not streaming)
        self.export_button.setVisible(self.role != "user" and not streaming and bool(content))

    def set_outcome(self, stats: Mapping[str, object] | None, finish_reason: str | None) -> None:
        self.finish_reason = finish_reason
        if (checks := citation_checks(stats)) != self.checks:  # marks on checked citations
            self.checks = checks
            self.set_text(self.content, self.reasoning, streaming=self.streaming)
        self.stats_label.setText(format_stats(stats))
        self.notice_label.setText(NOTICES.get(finish_reason or "", ""))
        self.notice_label.setVisible(bool(self.notice_label.text()))

    def set_actions(self, *, regenerate: bool, edit: bool) -> None:
        """Regenerate (and Continue, for an answer that stopped short with some text)."""
        self.regenerate_button.setVisible(regenerate)
        self.continue_button.setVisible(
            regenerate and self.finish_reason in CONTINUABLE and bool(self.content)
        )
        self.edit_button.setVisible(edit)

    def set_reasoning_shown(self, shown: bool) -> None:
        """Expand or collapse the reasoning block (collapsed by default: it is a side note)."""
        self.reasoning_view.setVisible(shown)
        self.reasoning_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    def _apply_palette(self) -> None:
        if self.role == "user":
            palette = self.palette()
            base = palette.color(QPalette.ColorRole.Base)
            tint = mix(base, palette.color(QPalette.ColorRole.Highlight), 0.12)
            palette.setColor(QPalette.ColorRole.Window, QColor(tint))
            self.setPalette(palette)

    def restyle(self) -> None:
        self._apply_palette()
        self.set_text(self.content, self.reasoning, streaming=self.streaming)

    def _on_anchor(self, url: QUrl) -> None:
        scheme, target = url.scheme(), url.path()
        if scheme == "cite":
            self.citation_clicked.emit(SourceRef.from_url(url))
        elif scheme == "copy-code" and target.isdigit() and int(target) < len(self.code_blocks):
            QApplication.clipboard().setText(self.code_blocks[int(target)])
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)


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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)

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

    def begin_answer(self) -> None:
        """Add the empty assistant message that `append_delta` will fill."""
        if self._streaming is not None:
            self.end_answer(None, "cancelled")
        self._streaming = self._add("assistant")
        self._streaming.set_text("", streaming=True)
        self._refresh_actions()

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
            self._streaming.checks = citation_checks({"citations": found})
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
        """Regenerate only on a final, finished answer; Edit only on the latest question."""
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
