"""Settings → Answers: thinking, the sampling preset (the values it really uses), the answer
length and the system prompt."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from desktop_app.core.llm.sampling import preset_for
from desktop_app.core.models.gguf_header import ModelInfo
from desktop_app.settings import DEFAULT_SYSTEM_PROMPT, Settings
from desktop_app.ui.dialogs.form_widgets import double_spin, row, spin, watch

PRESET_DEFAULT, PRESET_PRECISE, PRESET_CUSTOM = range(3)
#: "Precise" trades variety for steadier, more literal answers (lookups, summaries).
PRECISE: dict[str, float] = {"temperature": 0.2, "top_p": 0.9}
# name, label, minimum, maximum, step, decimals (0: an integer setting)
SAMPLING_FIELDS = (
    ("temperature", "Temperature", 0.0, 2.0, 0.05, 2),
    ("top_k", "Top-k (0 = off)", 0, 200, 1, 0),
    ("top_p", "Top-p", 0.0, 1.0, 0.05, 2),
    ("min_p", "Min-p", 0.0, 1.0, 0.01, 2),
    ("presence_penalty", "Presence penalty", 0.0, 2.0, 0.1, 2),
    ("repeat_penalty", "Repeat penalty", 1.0, 2.0, 0.05, 2),
)


class AnswersTab(QWidget):
    changed = Signal()

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self._architecture = ""
        #: Saved Custom values, shown once the model (whose preset fills gaps) is known.
        self._saved_custom: dict[str, float] | None = s.sampling
        self.thinking = QCheckBox("Let reasoning models think before answering")
        self.thinking.setChecked(s.thinking)
        self.thinking.toggled.connect(self._sync_sampling)
        self.preset = QComboBox()
        self.preset.addItems(["Model default", "Precise", "Custom"])
        presets = {PRESET_DEFAULT: not s.sampling, PRESET_PRECISE: s.sampling == PRECISE}
        self.preset.setCurrentIndex(next((i for i, hit in presets.items() if hit), PRESET_CUSTOM))
        self.preset.currentIndexChanged.connect(self._sync_sampling)
        self.sampling_spins: dict[str, QDoubleSpinBox] = {}
        sampling_form = QFormLayout()
        sampling_form.setContentsMargins(24, 0, 0, 0)
        for name, label, low, high, step, decimals in SAMPLING_FIELDS:
            box = self.sampling_spins[name] = double_spin(low, high, step, decimals)
            sampling_form.addRow(label + ":", row(box))
        self.max_tokens = spin(64, 32_768, s.max_answer_tokens, 256, " tokens")
        self.system_prompt = QPlainTextEdit(s.system_prompt)
        self.system_prompt.setMinimumHeight(90)
        reset = QPushButton("Reset")
        reset.setToolTip("Restore Folio's default system prompt")
        reset.clicked.connect(lambda: self.system_prompt.setPlainText(DEFAULT_SYSTEM_PROMPT))
        form = QFormLayout(self)
        form.addRow("Thinking:", self.thinking)
        form.addRow("Sampling:", row(self.preset))
        form.addRow(sampling_form)
        form.addRow("Max answer length:", row(self.max_tokens))
        form.addRow("System prompt:", self.system_prompt)
        form.addRow("", row(reset))
        watch(self, self.changed.emit)

    def show_model(self, info: ModelInfo | None) -> None:
        """The presets are the model's: show the values that will really be used."""
        self._architecture = info.architecture if info else ""
        if self._saved_custom is not None and self.preset.currentIndex() == PRESET_CUSTOM:
            # Keys missing from saved overrides show (and become) the model's preset values.
            self._fill_sampling(self._saved_custom)
        else:
            self._sync_sampling()
        self._saved_custom = None

    def values(self) -> dict[str, object]:
        return {
            "thinking": self.thinking.isChecked(),
            "sampling": self._sampling_overrides(),
            "max_answer_tokens": self.max_tokens.value(),
            "system_prompt": self.system_prompt.toPlainText(),
        }

    def _sync_sampling(self) -> None:
        """Show the values that will really be used; only Custom lets the user edit them."""
        preset = self.preset.currentIndex()
        custom = preset == PRESET_CUSTOM
        for box in self.sampling_spins.values():
            box.setEnabled(custom)
        if not custom:
            self._fill_sampling(PRECISE if preset == PRESET_PRECISE else None)

    def _fill_sampling(self, overrides: dict[str, float] | None) -> None:
        effective = preset_for(self._architecture, self.thinking.isChecked()).with_overrides(
            overrides
        )
        for name, box in self.sampling_spins.items():
            box.setValue(float(getattr(effective, name)))

    def _sampling_overrides(self) -> dict[str, float]:
        preset = self.preset.currentIndex()
        if preset == PRESET_DEFAULT:
            return {}
        if preset == PRESET_PRECISE:
            return dict(PRECISE)
        values: dict[str, float] = {}
        for name, *_, decimals in SAMPLING_FIELDS:
            value = self.sampling_spins[name].value()
            values[name] = round(value, decimals) if decimals else int(value)
        return values
