"""Settings → Appearance and Settings → Local API: a field or two each."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QWidget

from desktop_app.settings import Settings
from desktop_app.ui.dialogs.form_widgets import hint, row, spin, watch

THEMES = (("system", "Follow system"), ("light", "Light"), ("dark", "Dark"))


class AppearanceTab(QWidget):
    changed = Signal()

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self.theme = QComboBox()
        for value, label in THEMES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))
        form = QFormLayout(self)
        form.addRow("Theme:", row(self.theme))
        watch(self, self.changed.emit)

    def values(self) -> dict[str, object]:
        return {"theme": self.theme.currentData()}


class ApiTab(QWidget):
    changed = Signal()

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self.api_server = QCheckBox("Serve an OpenAI-compatible API on this computer")
        self.api_server.setChecked(s.api_server)
        self.api_port = spin(1024, 65_535, s.api_port, 1, "")
        self.api_port.setGroupSeparatorShown(False)  # a port is 8765, not "8,765"
        form = QFormLayout(self)
        form.addRow("Local API:", self.api_server)
        about = ("Scripts that use the openai client reach Folio's model at "
                 "http://127.0.0.1:PORT/v1 while Folio is open (no second copy of the model). "
                 "Only this computer can connect.")  # fmt: skip
        form.addRow("Port:", row(row(self.api_port), hint(about), vertical=True))
        watch(self, self.changed.emit)

    def values(self) -> dict[str, object]:
        return {"api_server": self.api_server.isChecked(), "api_port": self.api_port.value()}
