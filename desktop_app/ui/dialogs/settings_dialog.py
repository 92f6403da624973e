"""The Settings dialog: edits a copy of `Settings` and hands it back on OK.

The dialog never saves or applies anything itself; the caller decides what to
do with `result_settings()`, and `needs_reload` tells it whether the model has
to be loaded again (slow) or the change can take effect immediately.

A model path that fails validation does not disable OK: the file may live on a
drive that is not mounted right now, and the user must still be able to change
other settings. The error is shown here, and a failed load is reported by the app.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.documents import ocr
from desktop_app.core.llm.sampling import preset_for
from desktop_app.core.models.gguf_header import ModelInfo, read_model_info
from desktop_app.core.models.locator import demo_model_path
from desktop_app.errors import ModelFileError
from desktop_app.settings import DEFAULT_SYSTEM_PROMPT, Settings
from desktop_app.ui.dialogs.models_page import ModelsPage
from desktop_app.ui.dialogs.system_page import SystemPage
from desktop_app.ui.download_manager import DownloadManager

#: Settings the loaded model is built from; changing any of them means a reload.
RELOAD_FIELDS: frozenset[str] = frozenset(
    "model_path n_ctx gpu_layers n_threads flash_attn kv_cache_type checkpoint_ram_mb "
    "backend_url backend_key backend_model".split()
)
RELOAD_MESSAGE = "Changes to the model or context reload the model in the background."

_GPU_AUTO, _GPU_OFF, _GPU_NUMBER = range(3)
_PRESET_DEFAULT, _PRESET_PRECISE, _PRESET_CUSTOM = range(3)
#: "Precise" trades variety for steadier, more literal answers (lookups, summaries).
_PRECISE: dict[str, float] = {"temperature": 0.2, "top_p": 0.9}
# name, label, minimum, maximum, step, decimals (0: an integer setting)
_SAMPLING_FIELDS = (
    ("temperature", "Temperature", 0.0, 2.0, 0.05, 2),
    ("top_k", "Top-k (0 = off)", 0, 200, 1, 0),
    ("top_p", "Top-p", 0.0, 1.0, 0.05, 2),
    ("min_p", "Min-p", 0.0, 1.0, 0.01, 2),
    ("presence_penalty", "Presence penalty", 0.0, 2.0, 0.1, 2),
    ("repeat_penalty", "Repeat penalty", 1.0, 2.0, 0.05, 2),
)
_THEMES = (("system", "Follow system"), ("light", "Light"), ("dark", "Dark"))
# Typing a path fires on every key; reading a header on each would stutter on slow disks.
_VALIDATE_DELAY_MS = 250
#: The OCR languages by the name their speakers know them by.
OCR_LANGUAGE_NAMES = {"eng": "English", "fra": "Français", "deu": "Deutsch", "spa": "Español",
                      "ita": "Italiano", "nld": "Nederlands"}  # fmt: skip
#: The "Document language (OCR)" choices: each language alone, then each with English
#: (contracts and specs in one language often quote English terms, names and clauses).
OCR_CHOICES = (*OCR_LANGUAGE_NAMES, *(f"{c}+eng" for c in OCR_LANGUAGE_NAMES if c != "eng"))
NOT_INSTALLED = " (not installed)"


def needs_reload(old: Settings, new: Settings) -> bool:
    """Whether going from `old` to `new` requires loading the model again."""
    return any(getattr(old, name) != getattr(new, name) for name in RELOAD_FIELDS)


def describe_model(info: ModelInfo) -> str:
    """One line that lets the user recognise the file, e.g. "qwen35 · 9B · Q4_K_M · ..."."""
    parts = [info.architecture, info.size_label, info.quantization]
    parts.append(f"trained for {info.n_ctx_train:,} tokens")
    return " · ".join(p for p in parts if p)


def ocr_label(languages: str) -> str:
    """ "fra+eng" -> "Français + English"."""
    return " + ".join(OCR_LANGUAGE_NAMES.get(code, code) for code in languages.split("+"))


def _spin(minimum: int, maximum: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setSuffix(suffix)
    box.setValue(value)
    return box


def _double_spin(
    low: float, high: float, step: float, decimals: int, suffix: str = ""
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    return box


def _row(*widgets: QWidget, stretch: bool = True, vertical: bool = False) -> QWidget:
    """Widgets side by side at their natural width, or a field stacked over its hint
    (a hint in a form row of its own gets large gaps around it once it wraps)."""
    holder = QWidget()
    layout = QVBoxLayout(holder) if vertical else QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    if stretch and not vertical:
        layout.addStretch(1)
    return holder


def _hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setEnabled(False)  # the palette's dimmed text, readable in every theme
    return label


class SettingsDialog(QDialog):
    """Tabs for the model, context and speed, answers, storage, appearance and the system."""

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        downloads: DownloadManager | None = None,
    ) -> None:
        """With the window's `downloads`, a Models tab offers downloads and found models."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings
        self._info: ModelInfo | None = None
        self._validate_timer = QTimer(self, singleShot=True, interval=_VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self._validate_model)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._model_tab(settings), "Model")
        if downloads is not None:
            self.tabs.addTab(self._models_tab(downloads), "Models")
        self.tabs.addTab(self._speed_tab(settings), "Context && speed")
        self.tabs.addTab(self._answers_tab(settings), "Answers")
        self.tabs.addTab(self._storage_tab(settings), "Documents && storage")
        self.tabs.addTab(self._appearance_tab(settings), "Appearance")
        self.tabs.addTab(self._api_tab(settings), "Local API")
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

        self._validate_model()
        if self.preset.currentIndex() == _PRESET_CUSTOM:
            # Keys missing from saved overrides show (and become) the model's preset values.
            self._fill_sampling(settings.sampling)
        self._refresh()

    # -- tabs --------------------------------------------------------------------------

    def _model_tab(self, s: Settings) -> QWidget:
        self.model_edit = QLineEdit(s.model_path or "")
        self.model_edit.setPlaceholderText("(demo model when empty)")
        self.model_edit.setMinimumWidth(360)
        self.model_edit.textChanged.connect(lambda: self._validate_timer.start())
        self.model_edit.textChanged.connect(self._refresh)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = _row(self.model_edit, browse, stretch=False)
        self.model_status = QLabel()
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        hint = _hint("A GGUF file. Folio is tuned for Qwen3.5 models.")
        form.addRow("Model file:", _row(path_row, self.model_status, hint, vertical=True))
        self.backend_url = QLineEdit(s.backend_url)
        self.backend_url.setPlaceholderText("(none: the model file above runs in Folio)")
        self.backend_key = QLineEdit(s.backend_key)
        self.backend_key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.backend_key.setPlaceholderText("(none)")
        self.backend_model = QLineEdit(s.backend_model)
        self.backend_model.setPlaceholderText("(the first model the server lists)")
        hint = _hint("An OpenAI-compatible server (llama-server, vLLM, SGLang, Ollama, "
                     "another Folio), e.g. http://gpu-box:8080/v1, answers instead of the "
                     "model file. Documents and chats stay on this computer; the server reads "
                     "what is asked. The key is kept in Folio's settings file.")  # fmt: skip
        form.addRow("Engine server:", _row(self.backend_url, hint, vertical=True))
        form.addRow("API key:", self.backend_key)
        form.addRow("Server model:", self.backend_model)
        return self._page(form)

    def _models_tab(self, downloads: DownloadManager) -> QWidget:
        """The Models page; picking a model fills the model field (applied on OK)."""
        self.models_page = ModelsPage(downloads, show_open=False)
        self.models_page.model_chosen.connect(self._model_picked)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.models_page)
        return scroll

    def _speed_tab(self, s: Settings) -> QWidget:
        self.ctx_auto = QCheckBox("Auto")
        self.ctx_auto.setChecked(s.n_ctx is None)
        self.ctx_spin = _spin(2048, 1_048_576, s.n_ctx or 32_768, 1024, " tokens")
        self.gpu_mode = QComboBox()
        self.gpu_mode.addItems(["Auto", "Off (CPU only)", "Number"])
        mode = _GPU_AUTO if s.gpu_layers is None else _GPU_OFF if s.gpu_layers == 0 else _GPU_NUMBER
        self.gpu_mode.setCurrentIndex(mode)
        self.gpu_spin = _spin(1, 999, s.gpu_layers or 99, suffix=" layers")
        self.threads_auto = QCheckBox("Auto")
        self.threads_auto.setChecked(s.n_threads is None)
        self.threads_spin = _spin(1, 256, s.n_threads or min(os.cpu_count() or 4, 256))
        self.flash_attn = QComboBox()
        self.flash_attn.addItems(["auto", "on", "off"])
        self.flash_attn.setCurrentText(s.flash_attn)
        self.kv_cache = QComboBox()
        self.kv_cache.addItems(["f16", "q8_0"])
        self.kv_cache.setCurrentText(s.kv_cache_type)
        self.kv_hint = _hint()
        self.model_limits = _hint()
        form = QFormLayout()
        form.addRow("Context length:", _row(self.ctx_auto, self.ctx_spin))
        form.addRow("GPU layers:", _row(self.gpu_mode, self.gpu_spin))
        form.addRow("Threads:", _row(self.threads_auto, self.threads_spin))
        form.addRow("Flash attention:", _row(self.flash_attn))
        form.addRow("KV cache:", _row(_row(self.kv_cache), self.kv_hint, vertical=True))
        form.addRow("", self.model_limits)
        return self._page(form)

    def _answers_tab(self, s: Settings) -> QWidget:
        self.thinking = QCheckBox("Let reasoning models think before answering")
        self.thinking.setChecked(s.thinking)
        self.thinking.toggled.connect(self._sync_sampling)
        self.preset = QComboBox()
        self.preset.addItems(["Model default", "Precise", "Custom"])
        presets = {_PRESET_DEFAULT: not s.sampling, _PRESET_PRECISE: s.sampling == _PRECISE}
        self.preset.setCurrentIndex(next((i for i, hit in presets.items() if hit), _PRESET_CUSTOM))
        self.preset.currentIndexChanged.connect(self._sync_sampling)
        self.sampling_spins: dict[str, QDoubleSpinBox] = {}
        sampling_form = QFormLayout()
        sampling_form.setContentsMargins(24, 0, 0, 0)
        for name, label, low, high, step, decimals in _SAMPLING_FIELDS:
            box = self.sampling_spins[name] = _double_spin(low, high, step, decimals)
            sampling_form.addRow(label + ":", _row(box))
        self.max_tokens = _spin(64, 32_768, s.max_answer_tokens, 256, " tokens")
        self.system_prompt = QPlainTextEdit(s.system_prompt)
        self.system_prompt.setMinimumHeight(90)
        reset = QPushButton("Reset")
        reset.setToolTip("Restore Folio's default system prompt")
        reset.clicked.connect(lambda: self.system_prompt.setPlainText(DEFAULT_SYSTEM_PROMPT))
        form = QFormLayout()
        form.addRow("Thinking:", self.thinking)
        form.addRow("Sampling:", _row(self.preset))
        form.addRow(sampling_form)
        form.addRow("Max answer length:", _row(self.max_tokens))
        form.addRow("System prompt:", self.system_prompt)
        form.addRow("", _row(reset))
        return self._page(form)

    def _ocr_choice(self, s: Settings) -> QWidget:
        """The OCR language combo: languages this install lacks are greyed, with how to add
        them as the tooltip; a saved choice that lacks one stays selected, and the hint says
        what is missing."""
        self.ocr_info = info = ocr.engine_info()
        self.ocr_languages = QComboBox()
        self.ocr_hint = _hint()
        choices = list(OCR_CHOICES)
        if s.ocr_languages not in choices:  # a valid combination the list does not offer
            choices.append(s.ocr_languages)
        model = self.ocr_languages.model()
        assert isinstance(model, QStandardItemModel)
        for index, languages in enumerate(choices):
            missing = info.missing(languages) if info.version else ()
            label = ocr_label(languages) + (NOT_INSTALLED if missing else "")
            self.ocr_languages.addItem(label, languages)
            if missing:
                model.item(index).setEnabled(False)
                how = "\n".join(info.how_to_add(language) for language in missing)
                self.ocr_languages.setItemData(index, how, Qt.ItemDataRole.ToolTipRole)
        self.ocr_languages.setCurrentIndex(choices.index(s.ocr_languages))
        self.ocr_languages.setEnabled(bool(info.version))
        self.ocr_languages.currentIndexChanged.connect(self._sync_ocr_hint)
        self._sync_ocr_hint()
        return _row(_row(self.ocr_languages), self.ocr_hint, vertical=True)

    def _sync_ocr_hint(self) -> None:
        """What OCR will read scanned pages with, or what stops it (red)."""
        info = self.ocr_info
        missing = info.missing(self.ocr_languages.currentData()) if info.version else ()
        if not info.version:
            text = f"OCR is not available: {info.problem or 'no OCR engine'}"
        elif missing:
            text = "\n".join(info.how_to_add(language) for language in missing)
        else:
            installed = [name for code, name in OCR_LANGUAGE_NAMES.items()
                         if code in info.languages]  # fmt: skip
            text = (f"For scanned pages ({info.name} {info.version}; installed: "
                    f"{', '.join(installed) or 'none'}).")  # fmt: skip
        trouble = not info.version or bool(missing)
        self.ocr_hint.setText(text)
        self.ocr_hint.setEnabled(trouble)
        self._tint(self.ocr_hint, trouble)

    def _storage_tab(self, s: Settings) -> QWidget:
        self.max_document_mb = _spin(1, 100_000, s.max_document_mb, 50, " MB")
        self.checkpoint_ram_mb = _spin(128, 65_536, s.checkpoint_ram_mb, 256, " MB")
        self.state_cache_gb = _double_spin(0.0, 10_000.0, 5.0, 1, " GB")
        self.state_cache_gb.setSpecialValueText("Off")
        self.state_cache_gb.setValue(s.state_cache_gb)
        form = QFormLayout()
        form.addRow("Document language (OCR):", self._ocr_choice(s))
        for label, box, hint in (
            ("Largest document:", self.max_document_mb, "Larger files are refused unread."),
            ("Checkpoint memory:", self.checkpoint_ram_mb, "RAM for fast follow-ups."),
            ("Saved states:", self.state_cache_gb, "Disk so re-opened documents skip reading."),
        ):
            form.addRow(label, _row(_row(box), _hint(hint), vertical=True))
        return self._page(form)

    def _appearance_tab(self, s: Settings) -> QWidget:
        self.theme = QComboBox()
        for value, label in _THEMES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))
        form = QFormLayout()
        form.addRow("Theme:", _row(self.theme))
        return self._page(form)

    def _api_tab(self, s: Settings) -> QWidget:
        self.api_server = QCheckBox("Serve an OpenAI-compatible API on this computer")
        self.api_server.setChecked(s.api_server)
        self.api_port = _spin(1024, 65_535, s.api_port, 1, "")
        self.api_port.setGroupSeparatorShown(False)  # a port is 8765, not "8,765"
        form = QFormLayout()
        form.addRow("Local API:", self.api_server)
        hint = ("Scripts that use the openai client reach Folio's model at "
                "http://127.0.0.1:PORT/v1 while Folio is open (no second copy of the model). "
                "Only this computer can connect.")  # fmt: skip
        form.addRow("Port:", _row(_row(self.api_port), _hint(hint), vertical=True))
        return self._page(form)

    def _page(self, form: QFormLayout) -> QWidget:
        """Wrap a form in a tab page and watch its editors for `_refresh`.

        The model path's line edit is wired apart: spin boxes hold line edits too.
        """
        page = QWidget()
        page.setLayout(form)
        for box in page.findChildren(QSpinBox) + page.findChildren(QDoubleSpinBox):
            box.valueChanged.connect(self._refresh)
        for combo in page.findChildren(QComboBox):
            combo.currentIndexChanged.connect(self._refresh)
        for check in page.findChildren(QCheckBox):
            check.toggled.connect(self._refresh)
        for edit in page.findChildren(QPlainTextEdit):
            edit.textChanged.connect(self._refresh)
        return page

    # -- behaviour ---------------------------------------------------------------------

    def _browse(self) -> None:
        current = Path(self.model_edit.text().strip()).expanduser()
        start = str(current.parent if current.parent.is_dir() else Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model file", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.model_edit.setText(path)
            self._validate_model()

    def _model_picked(self, path: str) -> None:
        demo = demo_model_path()
        self.model_edit.setText("" if demo is not None and Path(path) == demo else path)
        self._validate_model()
        self.tabs.setCurrentIndex(0)  # show what was picked; OK applies it

    def _validate_model(self) -> None:
        """Read the chosen (or demo) model's header and show what it is or what is wrong."""
        self._validate_timer.stop()
        text = self.model_edit.text().strip()
        path = Path(text).expanduser() if text else demo_model_path()
        self._info = None
        if path is None:
            self._show_status("No model is set and the demo model is not installed.", error=True)
        else:
            try:
                self._info = read_model_info(path)
            except ModelFileError as exc:
                self._show_status(str(exc), error=True)
            else:
                prefix = "" if text else "Demo model: "
                self._show_status(prefix + describe_model(self._info), error=False)
        if self._info is None:
            self.model_limits.setText("")
        else:
            self.model_limits.setText(
                f"This model was trained for {self._info.n_ctx_train:,} tokens and has "
                f"{self._info.n_layer_all} layers to place on the GPU."
            )
        self._sync_sampling()

    def _show_status(self, text: str, *, error: bool) -> None:
        self.model_status.setText(text)
        self._tint(self.model_status, error)

    def _tint(self, label: QLabel, error: bool) -> None:
        """Red for errors, in a shade that stays readable on light and dark backgrounds."""
        dark = self.palette().window().color().lightness() < 128
        label.setStyleSheet(f"color: {'#ef7b7b' if dark else '#b3261e'};" if error else "")

    def _sync_sampling(self) -> None:
        """Show the values that will really be used; only Custom lets the user edit them."""
        preset = self.preset.currentIndex()
        custom = preset == _PRESET_CUSTOM
        for box in self.sampling_spins.values():
            box.setEnabled(custom)
        if not custom:
            self._fill_sampling(_PRECISE if preset == _PRESET_PRECISE else None)

    def _fill_sampling(self, overrides: dict[str, float] | None) -> None:
        arch = self._info.architecture if self._info else ""
        effective = preset_for(arch, self.thinking.isChecked()).with_overrides(overrides)
        for name, box in self.sampling_spins.items():
            box.setValue(float(getattr(effective, name)))

    def _refresh(self) -> None:
        self.ctx_spin.setEnabled(not self.ctx_auto.isChecked())
        self.threads_spin.setEnabled(not self.threads_auto.isChecked())
        self.gpu_spin.setEnabled(self.gpu_mode.currentIndex() == _GPU_NUMBER)
        conflict = self.kv_cache.currentText() == "q8_0" and self.flash_attn.currentText() == "off"
        if conflict:
            self.kv_hint.setText("q8_0 needs flash attention: set it to auto or on.")
        else:
            self.kv_hint.setText("q8_0 halves cache memory, needs flash attention.")
        self.kv_hint.setEnabled(conflict)
        self._tint(self.kv_hint, conflict)
        self.reload_hint.setVisible(needs_reload(self._original, self.result_settings()))

    def _sampling_overrides(self) -> dict[str, float]:
        preset = self.preset.currentIndex()
        if preset == _PRESET_DEFAULT:
            return {}
        if preset == _PRESET_PRECISE:
            return dict(_PRECISE)
        values: dict[str, float] = {}
        for name, *_, decimals in _SAMPLING_FIELDS:
            value = self.sampling_spins[name].value()
            values[name] = round(value, decimals) if decimals else int(value)
        return values

    def _gpu_layers(self) -> int | None:
        mode = self.gpu_mode.currentIndex()
        return None if mode == _GPU_AUTO else 0 if mode == _GPU_OFF else self.gpu_spin.value()

    def model_edited(self) -> bool:
        """Whether the user changed the model field (typed, browsed or picked a model)."""
        return (self.model_edit.text().strip() or None) != self._original.model_path

    def result_settings(self) -> Settings:
        """The edited copy of the settings (what OK means; read it after `accept`)."""
        text = self.model_edit.text().strip()
        return self._original.replace(
            # Kept as typed ("~" included): resolve_model expands it, and an untouched
            # path must compare equal so that it does not count as a reload.
            model_path=text or None,
            n_ctx=None if self.ctx_auto.isChecked() else self.ctx_spin.value(),
            gpu_layers=self._gpu_layers(),
            n_threads=None if self.threads_auto.isChecked() else self.threads_spin.value(),
            flash_attn=self.flash_attn.currentText(),
            kv_cache_type=self.kv_cache.currentText(),
            thinking=self.thinking.isChecked(),
            sampling=self._sampling_overrides(),
            max_answer_tokens=self.max_tokens.value(),
            system_prompt=self.system_prompt.toPlainText(),
            max_document_mb=self.max_document_mb.value(),
            checkpoint_ram_mb=self.checkpoint_ram_mb.value(),
            state_cache_gb=self.state_cache_gb.value(),
            theme=self.theme.currentData(),
            api_server=self.api_server.isChecked(),
            api_port=self.api_port.value(),
            backend_url=self.backend_url.text().strip(),
            backend_key=self.backend_key.text().strip(),
            backend_model=self.backend_model.text().strip(),
            ocr_languages=self.ocr_languages.currentData(),
        )
