"""The model picker at the top of the chat: which model answers, and a switch to another.

LM Studio and Jan put it there; a person looking for "which model is this?" looks at the top
of the conversation, not at the status bar. Its menu lists the installed models (the demo
model, the file in use, the GGUFs on disk), checks the one in use, and ends with "Download or
find models…" for the Models dialog. The disk search runs each time the menu opens, on a
thread; the menu shows what it knew at once and fills in when the search answers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from desktop_app.core.models.discovery import Discovered
from desktop_app.core.models.installed import InstalledModel, installed_models, same_file
from desktop_app.core.models.locator import demo_model_path
from desktop_app.ui.model_scan import ModelScan

#: The button's text is shortened past this width (a long name or status stays one line).
MAX_WIDTH = 420
FIND_MODELS = "Download or find models…"
SEARCHING = "Searching this computer…"


class ModelPicker(QToolButton):
    """Shows the model in use; its menu switches models (`chosen`) or asks for the dialog."""

    chosen = Signal(str)  # the GGUF to switch to
    find_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setAutoRaise(True)
        # The text ends in "▾" where people look for it; Qt's own tiny corner arrow goes.
        self.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.setAccessibleName("Model")
        font = self.font()
        font.setBold(True)
        self.setFont(font)
        self.menu_ = QMenu(self)
        self.menu_.aboutToShow.connect(self._refresh)
        self.setMenu(self.menu_)
        self._label = ""
        self._in_use: Path | None = None
        self._opened: Path | None = None
        self._found: list[Discovered] | None = None  # None until a search answered
        self._scan = ModelScan(self)
        self._scan.found.connect(self._on_found)
        self._scan.failed.connect(lambda _message: self._on_found(self._found or []))
        self.show_model("Loading model…", None)

    def show_model(self, label: str, in_use: Path | None, opened: Path | None = None) -> None:
        """`label`: what the button says (the model's name, "Loading …"); `in_use`: the file
        answering now, checked in the menu; `opened`: the configured file, listed too."""
        self._label, self._in_use, self._opened = label, in_use, opened
        shown = self.fontMetrics().elidedText(f"{label}  ▾", Qt.TextElideMode.ElideMiddle,
                                              MAX_WIDTH)  # fmt: skip
        self.setText(shown)
        self.setToolTip(f"{label}\nClick to switch models (Ctrl+M: all models).")
        if self.menu_.isVisible():
            self._fill()

    def models(self) -> list[InstalledModel]:
        """What the menu lists: installed models Folio can load."""
        found = installed_models(
            self._found or [], demo=demo_model_path(), opened=(self._in_use, self._opened)
        )
        return [m for m in found if m.usable]

    def _refresh(self) -> None:
        self._fill()
        self._scan.start()

    def _on_found(self, found: list[Discovered]) -> None:
        self._found = found
        if self.menu_.isVisible():
            self._fill()

    def _fill(self) -> None:
        menu = self.menu_
        menu.clear()
        for model in self.models():
            action = QAction(model.name, menu, checkable=True)
            action.setChecked(same_file(model.path, self._in_use))
            action.setToolTip(str(model.path))
            action.triggered.connect(lambda _on=False, path=model.path: self._pick(path))
            menu.addAction(action)
        if self._found is None:
            searching = menu.addAction(SEARCHING)
            searching.setEnabled(False)
        menu.addSeparator()
        menu.addAction(FIND_MODELS).triggered.connect(lambda: self.find_requested.emit())
        menu.setToolTipsVisible(True)

    def _pick(self, path: Path) -> None:
        if not same_file(path, self._in_use):
            self.chosen.emit(str(path))
