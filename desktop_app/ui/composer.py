"""The question box at the bottom of the window: type, send, stop, toggle thinking.

The composer only emits signals; the main window decides whether a send is accepted (a model
may still be loading) and clears the box itself via `clear()`, so a rejected send never loses
the user's text. Typing stays possible while an answer streams, so the next question can be
prepared, but Enter does not send until the window calls `set_busy(False)`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

PLACEHOLDER = "Ask about your documents…  (Enter to send, Shift+Enter for a new line)"
#: The hint when the whole one would be cut off (a narrow chat beside the source pane).
SHORT_PLACEHOLDER = "Ask about your documents…"
#: Long enough that a typing burst saves once, short enough that a crash loses little.
DRAFT_DEBOUNCE_MS = 500
MIN_LINES, MAX_LINES = 1, 8
#: Pasted text longer than this is a question, not a path; skip the filesystem probe.
_MAX_PATH_CHARS = 4096


def pasted_paths(mime: QMimeData) -> list[str]:
    """The local files a paste stands for, or [] when it should be inserted as text.

    File managers put file URLs on the clipboard, and "Copy as path" (Windows) or a terminal
    puts plain text, often quoted; both mean "attach this". Only paths that exist as files
    count, so a pasted sentence that merely looks like a path is still inserted as text.
    """
    if mime.hasUrls():
        urls = mime.urls()
        paths = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if paths and len(paths) == len(urls) and all(_is_file(p) for p in paths):
            return paths
    if mime.hasText():
        text = mime.text().strip().strip("\"'")
        if text and "\n" not in text and len(text) <= _MAX_PATH_CHARS:
            url = QUrl(text)
            path = url.toLocalFile() if url.isLocalFile() else str(Path(text).expanduser())
            if _is_file(path):
                return [path]
    return []


def _is_file(path: str) -> bool:
    """`Path.is_file` that treats names the OS rejects (NUL bytes, too long) as non-files."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


class _Input(QPlainTextEdit):
    """The text box; key and paste handling live here, the policy in `Composer`."""

    submit = Signal()
    escape = Signal()
    paths_pasted = Signal(list)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if mods & Qt.KeyboardModifier.ShiftModifier:
                # A real paragraph break, not Qt's default U+2028 soft break.
                self.insertPlainText("\n")
            else:
                self.submit.emit()
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.escape.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """The whole hint where it fits, else its short form: a hint cut mid-word reads
        as a fault."""
        super().resizeEvent(event)
        room = self.viewport().width() - 2 * self.document().documentMargin()
        fits = self.fontMetrics().horizontalAdvance(PLACEHOLDER) <= room
        self.setPlaceholderText(PLACEHOLDER if fits else SHORT_PLACEHOLDER)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 (Qt override)
        paths = pasted_paths(source)
        if paths:
            self.paths_pasted.emit(paths)
        else:
            super().insertFromMimeData(source)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 (Qt override)
        return source.hasUrls() or super().canInsertFromMimeData(source)


class Composer(QWidget):
    """Input box plus Think and Send/Stop buttons; see the module docstring for the contract."""

    send_requested = Signal(str)
    stop_requested = Signal()
    draft_changed = Signal(str)
    thinking_toggled = Signal(bool)
    files_pasted = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._busy = False

        self._input = _Input(self)
        self._input.setPlaceholderText(PLACEHOLDER)
        self._input.setTabChangesFocus(True)
        self._input.setFrameShape(QFrame.Shape.StyledPanel)
        self._input.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._input.document().setDocumentMargin(6)  # Qt's 4 px feels cramped in a chat box
        self._input.submit.connect(self._on_submit)
        self._input.escape.connect(self._on_escape)
        self._input.paths_pasted.connect(self.files_pasted)
        self._input.textChanged.connect(self._on_text_changed)
        self._input.document().documentLayout().documentSizeChanged.connect(self._fit_height)

        self._think = QToolButton(self)
        self._think.setText("Think")
        self._think.setCheckable(True)
        self._think.setToolTip("Let the model reason step by step before answering (slower)")
        self._think.toggled.connect(self.thinking_toggled)
        self._think.hide()

        self._action = QPushButton("Send", self)
        self._action.setDefault(False)
        self._action.setAutoDefault(False)
        self._action.clicked.connect(self._on_action)

        buttons = QVBoxLayout()
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self._think)
        row.addWidget(self._action)
        buttons.addLayout(row)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self._input, 1, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(buttons)

        # Take only the height the text needs; the chat view above gets the rest.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DEBOUNCE_MS)
        self._draft_timer.timeout.connect(lambda: self.draft_changed.emit(self.text()))

        self._fit_height()
        self._update_action()

    # -- public API --------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """Swap Send for Stop while an answer streams; the text box stays editable."""
        self._busy = busy
        self._update_action()

    def set_thinking(self, on: bool, *, supported: bool) -> None:
        """Reflect the window's thinking setting without echoing it back as a toggle."""
        self._think.blockSignals(True)
        self._think.setChecked(on and supported)
        self._think.blockSignals(False)
        self._think.setVisible(supported)

    def set_text(self, text: str) -> None:
        """Restore a draft. Programmatic changes do not emit `draft_changed`: the window
        already knows the text it set."""
        self._set_silently(text)
        self._input.moveCursor(QTextCursor.MoveOperation.End)

    def text(self) -> str:
        return self._input.toPlainText()

    def clear(self) -> None:
        """Empty the box after an accepted send. A pending draft save is dropped, or the
        question just sent would come back as a draft."""
        self._set_silently("")

    def focus_input(self) -> None:
        self._input.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- internals ---------------------------------------------------------------------------

    def _set_silently(self, text: str) -> None:
        self._input.setPlainText(text)
        self._draft_timer.stop()

    def _on_text_changed(self) -> None:
        self._draft_timer.start()
        self._update_action()

    def _on_submit(self) -> None:
        if not self._busy and self.text().strip():
            self.send_requested.emit(self.text())

    def _on_escape(self) -> None:
        if self._busy:
            self.stop_requested.emit()

    def _on_action(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self._on_submit()

    def _update_action(self) -> None:
        self._action.setText("Stop" if self._busy else "Send")
        self._action.setToolTip("Stop the answer (Esc)" if self._busy else "Send (Enter)")
        self._action.setEnabled(self._busy or bool(self.text().strip()))

    def _fit_height(self) -> None:
        """Grow with the text from MIN_LINES to MAX_LINES, then scroll; a fixed tall box
        wastes space for the usual one-line question."""
        doc = self._input.document()
        lines = max(MIN_LINES, min(MAX_LINES, int(doc.documentLayout().documentSize().height())))
        margins = self._input.contentsMargins()
        height = (
            lines * self._input.fontMetrics().lineSpacing()
            + 2 * int(doc.documentMargin())
            + margins.top()
            + margins.bottom()
            + 2 * self._input.frameWidth()
        )
        self._input.setFixedHeight(height)
