"""The password of an encrypted document, asked without a nested event loop.

The controller asks from inside an event handler; `QInputDialog.getText` there would run a
modal loop in which other queued handlers (an answer's end, another file's result) run
half-way through the one that asked. The dialog is opened window-modal instead and the
controller gets the reply later, as a command (`PasswordQuestion.answer`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from desktop_app.core.chat.view import PasswordQuestion


def ask_password(parent: QWidget, question: PasswordQuestion) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Password")
    dialog.setLabelText(question.message)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    replied = []  # exactly one reply, whichever way the dialog ends

    def reply(password: str | None) -> None:
        if not replied:
            replied.append(True)
            question.answer(password)

    dialog.textValueSelected.connect(reply)
    dialog.rejected.connect(lambda: reply(None))
    dialog.finished.connect(parent.activateWindow)  # the keyboard back to the window
    dialog.open()
    return dialog
