"""The Settings dialog: edits a copy of `Settings` and hands it back on OK.

The dialog never saves or applies anything itself; the caller decides what to
do with `result_settings()`, and `needs_reload` tells it whether the model has
to be loaded again (slow) or the change can take effect immediately.

Each tab is a module of its own (settings_*_tab.py) that edits some fields and says so
through its `changed` signal; the model tab tells the others which model the settings name,
whose limits bound what they offer.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import hardware as hardware_probe
from desktop_app.core.hardware import Hardware
from desktop_app.settings import Settings
from desktop_app.ui.dialogs.models_page import ModelsPage
from desktop_app.ui.dialogs.settings_answers_tab import AnswersTab
from desktop_app.ui.dialogs.settings_model_tab import ModelTab
from desktop_app.ui.dialogs.settings_small_tabs import ApiTab, AppearanceTab
from desktop_app.ui.dialogs.settings_speed_tab import SpeedTab
from desktop_app.ui.dialogs.settings_storage_tab import StorageTab
from desktop_app.ui.dialogs.system_page import SystemPage
from desktop_app.ui.download_manager import DownloadManager

#: Settings the loaded model is built from; changing any of them means a reload.
RELOAD_FIELDS: frozenset[str] = frozenset(
    "model_path n_ctx gpu_layers n_threads flash_attn kv_cache_type checkpoint_ram_mb "
    "backend_url backend_key backend_model".split()
)
RELOAD_MESSAGE = "Changes to the model or context reload the model in the background."


def needs_reload(old: Settings, new: Settings) -> bool:
    """Whether going from `old` to `new` requires loading the model again."""
    return any(getattr(old, name) != getattr(new, name) for name in RELOAD_FIELDS)


class SettingsDialog(QDialog):
    """Tabs for the model, context and speed, answers, storage, appearance and the system."""

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        downloads: DownloadManager | None = None,
        hardware: Hardware | None = None,
    ) -> None:
        """With the window's `downloads`, a Models tab offers downloads and found models.
        `hardware`: what this machine offers (detected when not given)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings
        machine = hardware if hardware is not None else hardware_probe.detect()
        self.model_tab = ModelTab(settings)
        self.speed = SpeedTab(settings, machine)
        self.answers = AnswersTab(settings)
        self.storage = StorageTab(settings)
        self.appearance = AppearanceTab(settings)
        self.api = ApiTab(settings)
        self._editors = (self.model_tab, self.speed, self.answers, self.storage,
                         self.appearance, self.api)  # fmt: skip

        self.tabs = QTabWidget()
        self.tabs.addTab(self.model_tab, "Model")
        if downloads is not None:
            self.tabs.addTab(self._models_tab(downloads), "Models")
        self.tabs.addTab(self.speed, "Context && speed")
        self.tabs.addTab(self.answers, "Answers")
        self.tabs.addTab(self.storage, "Documents && storage")
        self.tabs.addTab(self.appearance, "Appearance")
        self.tabs.addTab(self.api, "Local API")
        self.system_page = SystemPage()
        self.tabs.addTab(self.system_page, "System")
        self.reload_hint = QLabel(RELOAD_MESSAGE)
        self.reload_hint.setWordWrap(True)
        self.reload_hint.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        # Wide enough for every tab title without the tab bar's scroll arrows.
        self.setMinimumWidth(self.tabs.tabBar().sizeHint().width() + 40)
        layout.addWidget(self.reload_hint)
        layout.addWidget(self.buttons)

        self.model_tab.model_read.connect(self.speed.show_model)
        self.model_tab.model_read.connect(self.answers.show_model)
        for editor in self._editors:
            editor.changed.connect(self._refresh)
        self.model_tab.validate()
        self._refresh()

    def _models_tab(self, downloads: DownloadManager) -> QWidget:
        """The Models page; picking a model fills the model field (applied on OK)."""
        self.models_page = ModelsPage(downloads, show_open=False)
        self.models_page.model_chosen.connect(self._model_picked)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.models_page)
        return scroll

    def _model_picked(self, path: str) -> None:
        self.model_tab.pick(path)
        self.tabs.setCurrentIndex(0)  # show what was picked; OK applies it

    def _refresh(self) -> None:
        self.reload_hint.setVisible(needs_reload(self._original, self.result_settings()))

    def model_edited(self) -> bool:
        """Whether the user changed the model field (typed, browsed or picked a model)."""
        return self.model_tab.edited()

    def result_settings(self) -> Settings:
        """The edited copy of the settings (what OK means; read it after `accept`)."""
        fields: dict[str, object] = {}
        for editor in self._editors:
            fields.update(editor.values())
        return self._original.replace(**fields)
