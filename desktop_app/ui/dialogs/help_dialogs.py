"""The Help menu's windows: About Folio, and the system report (`folio system`) with Copy.

The report is the Settings → System page in a window of its own, so a person asked "what
machine is this?" in a bug report finds it under Help, where other applications keep it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app import __version__, paths
from desktop_app.ui.dialogs.system_page import SystemPage

ABOUT_TEXT = (
    "Folio {version}\n\n"
    "Ask questions about your documents, answered on this computer by a local language "
    "model, with citations checked against the pages they cite.\n\n"
    "Nothing you open or ask leaves this computer."
)


def about_box(parent: QWidget | None) -> QMessageBox:
    """About Folio, with the version; shown window-modal, closed with OK."""
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About Folio",
                      ABOUT_TEXT.format(version=__version__), parent=parent)  # fmt: skip
    box.setTextFormat(Qt.TextFormat.PlainText)
    icon = parent.windowIcon() if parent is not None else None
    if icon is not None and not icon.isNull():
        box.setIconPixmap(icon.pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


class SystemReportDialog(QDialog):
    """What `folio system` prints, collected off the UI thread, with Copy and Close."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("System report")
        self.resize(720, 520)
        self.page = SystemPage(self)
        note = QLabel("The same report prints in a terminal with: folio system")
        note.setEnabled(False)  # the palette's dimmed text
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)


def show_about(parent: QWidget) -> QMessageBox:
    box = about_box(parent)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.show()
    return box


def show_system_report(parent: QWidget, closed: Callable[[], None]) -> SystemReportDialog:
    dialog = SystemReportDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.finished.connect(closed)
    dialog.show()
    return dialog


def open_log_folder(show_error: Callable[[str], None]) -> None:
    """Help → Open log folder, in the file manager (a bug report asks for folio.log)."""
    folder = paths.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        show_error(f"Could not open the log folder. It is {folder}")
