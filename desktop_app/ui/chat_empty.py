"""What an empty chat shows: what to do first, and the keys that do it.

A new user who has just chosen a model otherwise faces a blank area and a text box; this
says that a document can be dropped or opened, that a question can be asked without one,
and which shortcuts reach the rest (there is no other place that lists them all).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

TITLE = "Ask about your documents"
#: {open} is the Open shortcut in the platform's notation (Ctrl+O, ⌘O).
HINT = (
    "Drop a PDF, DOCX, text file or scan here, or choose Open… ({open}). "
    "Or just type a question below."
)
#: The window's shortcuts (main_window.py binds them), in the order a new user needs them.
SHORTCUTS: tuple[tuple[QKeySequence | QKeySequence.StandardKey | str, str], ...] = (
    (QKeySequence.StandardKey.New, "New chat"),
    (QKeySequence.StandardKey.Open, "Open a document"),
    ("Ctrl+M", "Choose or download models"),
    ("Ctrl+,", "Settings"),
    ("Esc", "Stop the answer"),
)


def key_text(keys: QKeySequence | QKeySequence.StandardKey | str) -> str:
    """A shortcut as the platform writes it ("Ctrl+N" here, "⌘N" on macOS)."""
    sequence = QKeySequence(keys)
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


class EmptyChat(QWidget):
    """The hint in the middle of a chat that has no messages yet."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackgroundRole(QPalette.ColorRole.Base)  # the transcript's background
        self.setAutoFillBackground(True)
        title = QLabel(TITLE)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        self.hint = QLabel(HINT.format(open=key_text(QKeySequence.StandardKey.Open)))
        self.hint.setWordWrap(True)
        keys = QGridLayout()
        keys.setHorizontalSpacing(16)
        keys.setVerticalSpacing(6)
        #: (keys, what) as shown, for the tests and for anyone reading the widget.
        self.shortcuts: list[tuple[str, str]] = []
        for row, (sequence, what) in enumerate(SHORTCUTS):
            shown = key_text(sequence)
            key_label, what_label = QLabel(shown), QLabel(what)
            bold = key_label.font()
            bold.setBold(True)
            key_label.setFont(bold)
            what_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            keys.addWidget(key_label, row, 0, Qt.AlignmentFlag.AlignRight)
            keys.addWidget(what_label, row, 1)
            self.shortcuts.append((shown, what))
        keys.setColumnStretch(2, 1)  # the rows stay at the left, under the hint
        column = QWidget()
        column.setMaximumWidth(440)
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(12)
        inner.addWidget(title)
        inner.addWidget(self.hint)
        inner.addLayout(keys)
        for label in (title, self.hint):
            label.setTextFormat(Qt.TextFormat.PlainText)
        # Centred by stretches, not by alignment: an aligned widget gets its size hint's
        # width, and a wrapped label's hint is narrow (its lines then overlapped).
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 20)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)  # a little above the middle, where the eye lands
