"""Messages that quote a file name or a chat title show it as written, never as markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QMessageBox

from desktop_app.ui.message_box import confirm, show_message

NAME = "<b>deal</b><img src=x>.pdf is damaged and cannot be read as a PDF."


def test_a_message_quoting_markup_is_plain_text(qtbot, monkeypatch):
    boxes: list[tuple[str, Qt.TextFormat, str]] = []
    monkeypatch.setattr(
        QMessageBox, "exec",
        lambda box: boxes.append((box.text(), box.textFormat(), box.windowTitle())) or 0,
    )  # fmt: skip
    show_message(None, NAME)
    assert boxes == [(NAME, Qt.TextFormat.PlainText, "Folio")]
    assert GuiQt.mightBeRichText(NAME), "QMessageBox's default would draw this as HTML"


def test_confirm_is_plain_text_and_says_which_button(qtbot, monkeypatch):
    seen: list[Qt.TextFormat] = []
    answer = QMessageBox.StandardButton.No

    def run(box: QMessageBox) -> QMessageBox.StandardButton:
        seen.append(box.textFormat())
        return answer

    monkeypatch.setattr(QMessageBox, "exec", run)
    title = "Delete “<i>Lease</i>” and its messages?"
    assert confirm(None, "Delete chat", title) is False
    answer = QMessageBox.StandardButton.Yes
    assert confirm(None, "Delete chat", title) is True
    assert seen == [Qt.TextFormat.PlainText] * 2
