"""Settings → Context & speed: context length, GPU layers, threads, flash attention, KV cache.

Every number shown is one Folio would use: Auto says what it loads (core/chat/context_plan.py,
the same numbers as the plan line and the cards), a context is never offered beyond what the
model was trained for, and a build or machine without a GPU backend offers no GPU layers.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QWidget

from desktop_app.core.chat.context_plan import LIMIT_REASONS, auto_context, capacity
from desktop_app.core.hardware import Hardware
from desktop_app.core.models.gguf_header import ModelInfo
from desktop_app.settings import Settings
from desktop_app.ui.dialogs.form_widgets import hint, row, spin, tint, watch

GPU_AUTO, GPU_OFF, GPU_NUMBER = range(3)
#: Said instead of any layer count where layers cannot go to a GPU.
CPU_ONLY = "CPU only: this build/machine has no GPU backend."
#: The context range when the model's training context is unknown.
MIN_CONTEXT, MAX_CONTEXT = 2048, 1_048_576


class SpeedTab(QWidget):
    changed = Signal()

    def __init__(self, s: Settings, hardware: Hardware) -> None:
        super().__init__()
        self._hardware = hardware
        self._info: ModelInfo | None = None
        self._saved_ctx = s.n_ctx or 0
        self.ctx_auto = QCheckBox("Auto")
        self.ctx_auto.setChecked(s.n_ctx is None)
        self.ctx_spin = spin(MIN_CONTEXT, MAX_CONTEXT, s.n_ctx or MIN_CONTEXT, 1024, " tokens")
        self.ctx_hint = hint()
        self.gpu_mode = QComboBox()
        self.gpu_mode.addItems(["Auto", "Off (CPU only)", "Number"])
        mode = GPU_AUTO if s.gpu_layers is None else GPU_OFF if s.gpu_layers == 0 else GPU_NUMBER
        self.gpu_mode.setCurrentIndex(mode)
        self.gpu_spin = spin(1, 999, s.gpu_layers or 1, suffix=" layers")
        self.cpu_only = QLabel(CPU_ONLY)
        self.threads_auto = QCheckBox("Auto")
        self.threads_auto.setChecked(s.n_threads is None)
        self.threads_spin = spin(1, 256, s.n_threads or min(os.cpu_count() or 4, 256))
        self.flash_attn = QComboBox()
        self.flash_attn.addItems(["auto", "on", "off"])
        self.flash_attn.setCurrentText(s.flash_attn)
        self.kv_cache = QComboBox()
        self.kv_cache.addItems(["f16", "q8_0"])
        self.kv_cache.setCurrentText(s.kv_cache_type)
        self.kv_hint = hint()
        self.model_limits = hint()
        form = QFormLayout(self)
        form.addRow("Context length:", row(row(self.ctx_auto, self.ctx_spin), self.ctx_hint,
                                           vertical=True))  # fmt: skip
        form.addRow("GPU layers:", row(self.gpu_mode, self.gpu_spin, self.cpu_only))
        form.addRow("Threads:", row(self.threads_auto, self.threads_spin))
        form.addRow("Flash attention:", row(self.flash_attn))
        form.addRow("KV cache:", row(row(self.kv_cache), self.kv_hint, vertical=True))
        form.addRow("", self.model_limits)
        # Without a GPU backend the saved choice is kept as it is (a GPU build may use it),
        # hidden: no layer count is offered where none can be placed.
        self.gpu_mode.setHidden(not hardware.gpu_offload)
        self.gpu_spin.setHidden(not hardware.gpu_offload)
        self.cpu_only.setHidden(hardware.gpu_offload)
        watch(self, self.changed.emit)
        self.changed.connect(self._refresh)
        self._refresh()

    def show_model(self, info: ModelInfo | None) -> None:
        """The model the settings name: its limits bound the numbers offered here."""
        self._info = info
        trained = info.n_ctx_train if info is not None and info.n_ctx_train > 0 else 0
        # Nothing beyond the training context is offered; a saved larger length stays as set
        # (OK must not change what the user did not touch), and the hint says it is lowered.
        top = max(MIN_CONTEXT, trained, self._saved_ctx) if trained else MAX_CONTEXT
        self.ctx_spin.setMaximum(top)
        if info is None:
            self.model_limits.setText("")
        else:
            text = f"This model was trained for {info.n_ctx_train:,} tokens"
            if self._hardware.gpu_offload:
                text += f" and has {info.n_layer_all} layers to place on the GPU"
                if self.gpu_mode.currentIndex() != GPU_NUMBER:
                    self.gpu_spin.setValue(info.n_layer_all)  # "all of them", as Auto tries
            self.model_limits.setText(text + ".")
        self._refresh()

    def values(self) -> dict[str, object]:
        mode = self.gpu_mode.currentIndex()
        gpu = None if mode == GPU_AUTO else 0 if mode == GPU_OFF else self.gpu_spin.value()
        return {
            "n_ctx": None if self.ctx_auto.isChecked() else self.ctx_spin.value(),
            "gpu_layers": gpu,
            "n_threads": None if self.threads_auto.isChecked() else self.threads_spin.value(),
            "flash_attn": self.flash_attn.currentText(),
            "kv_cache_type": self.kv_cache.currentText(),
        }

    def _refresh(self) -> None:
        auto = self.ctx_auto.isChecked()
        self.ctx_spin.setEnabled(not auto)
        self.threads_spin.setEnabled(not self.threads_auto.isChecked())
        self.gpu_spin.setEnabled(self.gpu_mode.currentIndex() == GPU_NUMBER)
        self._show_context(auto)
        conflict = self.kv_cache.currentText() == "q8_0" and self.flash_attn.currentText() == "off"
        if conflict:
            self.kv_hint.setText("q8_0 needs flash attention: set it to auto or on.")
        else:
            self.kv_hint.setText("q8_0 halves cache memory, needs flash attention.")
        self.kv_hint.setEnabled(conflict)
        tint(self.kv_hint, conflict)

    def _show_context(self, auto: bool) -> None:
        """What Auto loads (its number in the greyed box), or the most a set length gets."""
        if self._info is None:
            self.ctx_hint.setText("")
            return
        cache = self.kv_cache.currentText()
        if auto:
            chat, text = auto_context(self._info, self._hardware, cache)
            self.ctx_spin.blockSignals(True)  # showing Auto's number is not an edit
            self.ctx_spin.setValue(chat)
            self.ctx_spin.blockSignals(False)
        else:
            most = capacity(self._info, self._hardware, cache)
            text = f"At most {most.tokens:,} tokens are used: {LIMIT_REASONS[most.limit]}."
        self.ctx_hint.setText(text)
