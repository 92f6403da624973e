"""The first-run dialog (and Ctrl+M): the Models page in a window of its own.

Shown on the first start when no model is configured, so a new user learns within a
minute what to download or which model they already have, while the demo model answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QPushButton, QVBoxLayout, QWidget

from desktop_app.core.hardware import Hardware
from desktop_app.core.models.discovery import Discovered
from desktop_app.ui.dialogs.models_page import ModelsPage
from desktop_app.ui.download_manager import DownloadManager


class ModelsDialog(QDialog):
    """Picking a model closes it; downloads keep running in the manager when it closes."""

    model_chosen = Signal(str)

    def __init__(
        self,
        manager: DownloadManager,
        parent: QWidget | None = None,
        *,
        hardware: Hardware | None = None,
        discovered: list[Discovered] | None = None,
        in_use: Path | None = None,
        opened: Sequence[Path | None] = (),
    ) -> None:
        """`in_use`: the model answering now, marked in the list; `opened`: the configured
        file, listed even where no scan looks."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.page = ModelsPage(
            manager, hardware=hardware, discovered=discovered, in_use=in_use, opened=opened
        )
        self.page.model_chosen.connect(self._chosen)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        self.page.buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)

    def _chosen(self, path: str) -> None:
        self.model_chosen.emit(path)
        self.accept()
