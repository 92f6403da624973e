"""Message boxes that show their text exactly as written.

`QMessageBox.warning(parent, title, text)` guesses whether `text` is HTML
(`Qt.mightBeRichText`), and the text quotes what comes from the user's world: file names
("<b>deal</b>.pdf is damaged…"), chat titles (the first question asked). Such a name
would be drawn as markup, or hide the rest of the message; these boxes are plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

Icon = QMessageBox.Icon
Button = QMessageBox.StandardButton


def _box(parent: QWidget | None, icon: Icon, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def show_message(parent: QWidget | None, text: str, icon: Icon = Icon.Warning) -> None:
    """A modal message with an OK button, titled Folio (for callers outside an event
    handler: start-up, the last-resort error hook)."""
    _box(parent, icon, "Folio", text).exec()


def notify(parent: QWidget, text: str) -> QMessageBox:
    """The same message, window-modal but returning at once: the controller's handlers
    call it, and a nested loop there would run other handlers half-way through theirs."""
    box = _box(parent, Icon.Warning, "Folio", text)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Yes/No; True for Yes."""
    box = _box(parent, Icon.Question, title, text)
    box.setStandardButtons(Button.Yes | Button.No)
    return box.exec() == Button.Yes
