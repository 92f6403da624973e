"""The Settings dialog round-trips every field, validates the model file, and themes apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QPushButton

from desktop_app.core.chat.context_plan import capacity
from desktop_app.core.hardware import GpuDevice, Hardware
from desktop_app.core.llm.placement import RAM_HEADROOM
from desktop_app.core.models.gguf_header import read_model_info
from desktop_app.settings import DEFAULT_SYSTEM_PROMPT, Settings
from desktop_app.ui.dialogs.settings_dialog import (
    RELOAD_FIELDS,
    RELOAD_MESSAGE,
    SettingsDialog,
    needs_reload,
)
from desktop_app.ui.theme import apply_theme
from tests.fixtures.gguf_factory import smollm2_path, write_tiny_qwen35

GIB = 1024**3
#: A laptop with a GPU backend and an 8 GiB card, and the same laptop without one.
GPU_MACHINE = Hardware(8, 16, 32 * GIB, 24 * GIB, True,
                       (GpuDevice("Vulkan0", "Radeon", "gpu", 7 * GIB, 8 * GIB),))  # fmt: skip
CPU_MACHINE = Hardware(8, 16, 32 * GIB, 24 * GIB, False, ())


def _dialog(
    qtbot, settings: Settings | None = None, hardware: Hardware = GPU_MACHINE
) -> SettingsDialog:
    dialog = SettingsDialog(settings or Settings(), hardware=hardware)
    qtbot.addWidget(dialog)
    return dialog


def _accepted(dialog: SettingsDialog) -> Settings:
    dialog.accept()
    return dialog.result_settings()


def test_shows_the_given_values(qtbot) -> None:
    given = Settings(
        n_ctx=8192,
        gpu_layers=12,
        n_threads=6,
        flash_attn="off",
        kv_cache_type="q8_0",
        thinking=True,
        max_answer_tokens=1024,
        system_prompt="Be brief.",
        max_document_mb=50,
        checkpoint_ram_mb=2048,
        state_cache_gb=0.0,
        theme="dark",
    )
    dialog = _dialog(qtbot, given)
    assert not dialog.speed.ctx_auto.isChecked() and dialog.speed.ctx_spin.value() == 8192
    assert dialog.speed.gpu_mode.currentText() == "Number" and dialog.speed.gpu_spin.value() == 12
    assert dialog.speed.threads_spin.value() == 6
    assert dialog.speed.flash_attn.currentText() == "off"
    assert dialog.speed.kv_cache.currentText() == "q8_0"
    assert dialog.answers.thinking.isChecked()
    assert dialog.answers.system_prompt.toPlainText() == "Be brief."
    assert dialog.storage.state_cache_gb.text() == "Off"
    assert dialog.appearance.theme.currentText() == "Dark"
    assert not dialog.reload_hint.isVisibleTo(dialog)
    # Nothing edited: OK hands back exactly what came in.
    assert _accepted(dialog) == given


def test_context_length_from_auto_to_fixed(qtbot) -> None:
    dialog = _dialog(qtbot)
    assert dialog.speed.ctx_auto.isChecked() and not dialog.speed.ctx_spin.isEnabled()
    dialog.speed.ctx_auto.setChecked(False)
    dialog.speed.ctx_spin.setValue(4096)
    assert dialog.reload_hint.isVisibleTo(dialog)
    assert dialog.reload_hint.text() == RELOAD_MESSAGE
    assert _accepted(dialog).n_ctx == 4096


@pytest.mark.parametrize(
    ("mode", "number", "expected"),
    [("Off (CPU only)", None, 0), ("Auto", None, None), ("Number", 20, 20)],
)
def test_gpu_layers_modes(qtbot, mode: str, number: int | None, expected: int | None) -> None:
    dialog = _dialog(qtbot, Settings(gpu_layers=5))
    assert not dialog.speed.cpu_only.isVisibleTo(dialog.speed)  # a GPU backend: layers
    dialog.speed.gpu_mode.setCurrentText(mode)
    assert dialog.speed.gpu_spin.isEnabled() == (mode == "Number")
    if number is not None:
        dialog.speed.gpu_spin.setValue(number)
    assert _accepted(dialog).gpu_layers == expected


def test_auto_context_says_what_it_uses_and_never_more_than_trained(qtbot) -> None:
    """The demo model was trained for 8,192 tokens: Auto shows 8,192 (not a larger default)
    and says why; a length set by hand is offered up to the training context only."""
    dialog = _dialog(qtbot)  # the demo model (SmolLM2, trained for 8,192 tokens)
    speed = dialog.speed
    assert speed.ctx_auto.isChecked() and speed.ctx_spin.value() == 8192
    assert speed.ctx_hint.text() == "Auto uses 8,192 tokens: what this model was trained for."
    assert speed.model_limits.text() == (
        "This model was trained for 8,192 tokens and has 30 layers to place on the GPU."
    )
    speed.ctx_auto.setChecked(False)
    speed.ctx_spin.setValue(32_768)
    assert speed.ctx_spin.value() == 8192  # nothing beyond the training context
    assert speed.ctx_hint.text() == (
        "At most 8,192 tokens are used: what this model was trained for."
    )


def test_auto_context_of_a_long_context_model_on_a_small_machine(qtbot, tmp_path: Path) -> None:
    """A 262K-context model on a machine whose memory holds about 100K tokens of it: Auto
    says the machine's number, the one the plan (and so the cards) will use."""
    model = write_tiny_qwen35(tmp_path / "long.gguf", n_ctx_train=262_144)
    info = read_model_info(model)
    fixed = (RAM_HEADROOM + info.compute_bytes(info.n_ctx_train) + info.recurrent_state_bytes
             + info.file_size)  # fmt: skip
    small = Hardware(4, 8, 8 * GIB, fixed + 100_000 * info.kv_bytes_per_token_as("f16"), False, ())
    most = capacity(info, small, "f16")
    assert most.limit == "machine" and 90_000 < most.tokens < 110_000
    dialog = _dialog(qtbot, Settings(model_path=str(model)), hardware=small)
    assert dialog.speed.ctx_spin.value() == 8192
    assert dialog.speed.ctx_hint.text() == (
        f"Auto uses 8,192 tokens for a chat, more when documents need it, up to "
        f"{most.tokens:,}: what this machine's memory holds for this model."
    )


def test_no_gpu_backend_offers_no_layers(qtbot) -> None:
    dialog = _dialog(qtbot, Settings(gpu_layers=12), hardware=CPU_MACHINE)
    speed = dialog.speed
    assert speed.cpu_only.isVisibleTo(speed)
    assert speed.cpu_only.text() == "CPU only: this build/machine has no GPU backend."
    assert not speed.gpu_mode.isVisibleTo(speed) and not speed.gpu_spin.isVisibleTo(speed)
    assert speed.model_limits.text() == "This model was trained for 8,192 tokens."
    assert _accepted(dialog).gpu_layers == 12  # kept for a build with a GPU


def test_model_default_preset_empties_overrides(qtbot) -> None:
    dialog = _dialog(qtbot, Settings(sampling={"temperature": 0.5, "top_k": 10}))
    assert dialog.answers.preset.currentText() == "Custom"
    dialog.answers.preset.setCurrentText("Model default")
    assert not dialog.answers.sampling_spins["temperature"].isEnabled()
    assert _accepted(dialog).sampling == {}


def test_precise_preset(qtbot) -> None:
    dialog = _dialog(qtbot)
    dialog.answers.preset.setCurrentText("Precise")
    assert _accepted(dialog).sampling == {"temperature": 0.2, "top_p": 0.9}


def test_custom_sampling(qtbot) -> None:
    dialog = _dialog(qtbot)
    dialog.answers.preset.setCurrentText("Custom")
    assert dialog.answers.sampling_spins["temperature"].isEnabled()
    dialog.answers.sampling_spins["temperature"].setValue(0.3)
    dialog.answers.sampling_spins["top_k"].setValue(25)
    sampling = _accepted(dialog).sampling
    assert sampling["temperature"] == 0.3
    assert sampling["top_k"] == 25 and isinstance(sampling["top_k"], int)
    assert set(sampling) == {
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "presence_penalty",
        "repeat_penalty",
    }


def test_system_prompt_reset(qtbot) -> None:
    dialog = _dialog(qtbot, Settings(system_prompt="Talk like a pirate."))
    reset = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Reset")
    reset.click()
    assert _accepted(dialog).system_prompt == DEFAULT_SYSTEM_PROMPT


def test_bad_model_file_shows_the_error(qtbot, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(os.urandom(4096))
    dialog = _dialog(qtbot)
    dialog.model_tab.model_edit.setText(str(bad))
    qtbot.waitUntil(lambda: "broken.gguf" in dialog.model_tab.model_status.text())
    assert "color" in dialog.model_tab.model_status.styleSheet()
    assert dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    assert _accepted(dialog).model_path == str(bad)


def test_demo_model_is_described(qtbot) -> None:
    dialog = _dialog(qtbot, Settings(model_path=str(smollm2_path())))
    assert "llama" in dialog.model_tab.model_status.text()
    assert "8,192 tokens" in dialog.model_tab.model_status.text()
    assert dialog.model_tab.model_status.styleSheet() == ""


def test_empty_path_means_demo_model(qtbot) -> None:
    dialog = _dialog(qtbot, Settings(model_path="/somewhere/model.gguf"))
    dialog.model_tab.model_edit.setText("  ")
    qtbot.waitUntil(lambda: "llama" in dialog.model_tab.model_status.text())
    assert _accepted(dialog).model_path is None


def test_needs_reload() -> None:
    base = Settings()
    assert needs_reload(base, base.replace(n_ctx=4096))
    assert needs_reload(base, base.replace(model_path="/m.gguf"))
    assert not needs_reload(base, base.replace(theme="dark"))
    assert not needs_reload(base, base.replace(system_prompt="Hi."))
    assert not needs_reload(base, base.replace(sampling={"temperature": 0.1}))
    assert "checkpoint_ram_mb" in RELOAD_FIELDS


def _lightness(app: QApplication) -> int:
    return app.palette().color(QPalette.ColorRole.Window).lightness()


def test_apply_theme(qapp: QApplication) -> None:
    original = qapp.palette().color(QPalette.ColorRole.Window)
    style = qapp.style().name()
    try:
        apply_theme(qapp, "dark")
        assert _lightness(qapp) < 100
        assert qapp.style().name().lower() == "fusion"
        disabled = qapp.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        assert disabled != qapp.palette().color(QPalette.ColorRole.Text)
        apply_theme(qapp, "light")
        assert _lightness(qapp) > 200
    finally:
        apply_theme(qapp, "system")
    assert qapp.palette().color(QPalette.ColorRole.Window) == original
    assert qapp.style().name() == style


def test_system_tab_shows_the_report_collected_off_the_ui_thread(qtbot) -> None:
    """The System tab shows what `folio system` prints, filled in later, and copies it."""
    from desktop_app.core.hardware.backends import ensure_loaded
    from desktop_app.ui.dialogs.system_page import COLLECTING

    dialog = _dialog(qtbot)
    dialog.show()
    page = dialog.system_page
    dialog.tabs.setCurrentWidget(page)
    # Collected on a thread: nothing is there until the event loop delivers it.
    assert page.text.toPlainText() == COLLECTING
    assert not page.copy_text.isEnabled()
    qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
    text = page.text.toPlainText()
    variant = ensure_loaded().cpu_variant
    assert f"CPU module: {variant} " in text if variant else "CPU module: built into" in text
    assert "GPU offload: " in text and "RAM: " in text
    page.copy_text.click()
    assert QApplication.clipboard().text() == text
    page.copy_json.click()
    assert '"variant": ' in QApplication.clipboard().text()
