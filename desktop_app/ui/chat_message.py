"""One message of the transcript: its text, and for an answer what it is doing or how it ended.

An answer is never a bare "Folio" heading: until its first words it says what the model is
doing ("Reading the document… 1,234 / 5,000 tokens", then "Thinking…"), and once it ended
it says how (stats, cut-off notice, what its citation check found, or that it has none).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.chat.citations import Mark, marks_of
from desktop_app.ui.chat_markdown import (
    STYLE,
    Theme,
    citation_line,
    format_stats,
    mix,
    render_markdown,
)
from desktop_app.ui.source_ref import SourceRef

NOTICES = {
    "cancelled": "Stopped",
    "length": "Cut off: answer length limit reached",
    "context_full": "Cut off: the context is full",
    "error": "Failed: the answer stopped with an error",
    "interrupted": "Interrupted: Folio closed before this answer finished",
}
#: Outcomes after which an answer can go on from where it stopped (Continue).
CONTINUABLE = frozenset({"cancelled", "length", "error", "interrupted"})
#: What an answer says while the model works out its first words (or reasons, hidden).
THINKING = "Thinking…"


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


def muted_label(text: str = "", *, italic: bool = False) -> QLabel:
    """Secondary text (stats, notices, hints) in the palette's placeholder colour."""
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
    """One message: body, and for the assistant a collapsible reasoning block, what it is
    doing before its first words, a cut-off notice, its citations' verdict, a stats line
    and action buttons. The view decides which actions are shown."""

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
        #: What the answer says before its first words and reasoning (see `set_waiting`).
        self.waiting = THINKING
        self.code_blocks: list[str] = []
        #: Verdicts on the answer's citations once it has been checked, by citation text.
        self.checks: dict[str, Mark] = {}
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
        #: "Reading the document… 1,234 / 5,000 tokens", "Thinking…": until the first words.
        self.state_label = muted_label(italic=True)
        self.body = _AutoHeightBrowser()
        self.body.anchorClicked.connect(self._on_anchor)
        self.notice_label = muted_label(italic=True)
        #: What the citation check found, or that the answer cites nothing (own line: it
        #: must not wrap beside the buttons in a narrow chat).
        self.citations_label = muted_label()
        for widget in (self.reasoning_toggle, self.reasoning_view, self.state_label):
            widget.hide()
            layout.addWidget(widget)
        for widget in (self.body, self.notice_label, self.citations_label):
            layout.addWidget(widget)
        self.notice_label.hide()
        self.citations_label.hide()

        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        self.stats_label = muted_label()
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
        for label in (title, self.state_label, self.notice_label, self.citations_label,
                      self.stats_label):  # fmt: skip
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
        self._show_state()
        self.copy_button.setVisible(not streaming)
        self.export_button.setVisible(self.role != "user" and not streaming and bool(content))

    def set_waiting(self, text: str) -> None:
        """What a streaming answer without words yet is doing (reading the prompt, thinking);
        only the label changes, so progress ticks cost no Markdown layout."""
        self.waiting = text
        self._show_state()

    def _show_state(self) -> None:
        """Shown only until the first words: reasoning that arrived means "Thinking…"."""
        text = THINKING if self.reasoning else self.waiting
        self.state_label.setText(text)
        self.state_label.setVisible(self.streaming and not self.content and bool(text))

    def set_outcome(self, stats: Mapping[str, object] | None, finish_reason: str | None) -> None:
        self.finish_reason = finish_reason
        if (checks := marks_of(stats)) != self.checks:  # marks on checked citations
            self.checks = checks
            self.set_text(self.content, self.reasoning, streaming=self.streaming)
        self.stats_label.setText(format_stats(stats))
        self.notice_label.setText(NOTICES.get(finish_reason or "", ""))
        self.notice_label.setVisible(bool(self.notice_label.text()))
        self.citations_label.setText(citation_line(stats) if self.content else "")
        self.citations_label.setVisible(bool(self.citations_label.text()))

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
