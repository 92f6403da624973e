"""Settings → Documents: "Document language (OCR)" offers the bundled languages (alone and
with English), greys those this install lacks with how to add them, and hands back the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.core.documents import ocr
from desktop_app.settings import Settings
from desktop_app.ui.dialogs.settings_dialog import SettingsDialog, needs_reload

TESSDATA = Path("/opt/folio/_internal/tessdata")
ALL_SIX = ("deu", "eng", "fra", "ita", "nld", "spa")
CHOICES = [
    "English", "Français", "Deutsch", "Español", "Italiano", "Nederlands",
    "Français + English", "Deutsch + English", "Español + English", "Italiano + English",
    "Nederlands + English",
]  # fmt: skip


def _dialog(qtbot, settings: Settings) -> SettingsDialog:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    return dialog


def _items(dialog: SettingsDialog) -> list[tuple[str, str, bool, str | None]]:
    combo = dialog.storage.ocr_languages
    model = combo.model()
    return [
        (combo.itemText(i), combo.itemData(i), model.item(i).isEnabled(),
         combo.itemData(i, Qt.ItemDataRole.ToolTipRole))
        for i in range(combo.count())
    ]  # fmt: skip


def test_every_language_installed(qtbot, engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", TESSDATA, ALL_SIX))
    dialog = _dialog(qtbot, Settings(ocr_languages="fra+eng"))
    assert [text for text, *_ in _items(dialog)] == CHOICES
    assert all(enabled for _, _, enabled, _ in _items(dialog))
    assert dialog.storage.ocr_languages.currentText() == "Français + English"
    assert dialog.storage.ocr_hint.text() == (
        "For scanned pages (Tesseract 5.5.4; installed: English, Français, Deutsch, Español, "
        "Italiano, Nederlands)."
    )
    assert dialog.result_settings().ocr_languages == "fra+eng"
    field = dialog.storage.ocr_languages.parentWidget().parentWidget()
    form = field.parentWidget().layout()
    assert form.labelForField(field).text() == "Document language (OCR):"


def test_choosing_another_language_is_saved_without_a_reload(qtbot, engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", TESSDATA, ALL_SIX))
    before = Settings(ocr_languages="eng")
    dialog = _dialog(qtbot, before)
    dialog.storage.ocr_languages.setCurrentText("Deutsch + English")
    after = dialog.result_settings()
    assert after.ocr_languages == "deu+eng"
    assert not needs_reload(before, after) and not dialog.reload_hint.isVisibleTo(dialog)


def test_missing_languages_are_greyed_with_how_to_add_them(qtbot, engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", TESSDATA, ("deu", "eng", "fra", "nld", "spa")))
    dialog = _dialog(qtbot, Settings(ocr_languages="eng"))
    how = "To read ita, copy ita.traineddata (tessdata_fast) into /opt/folio/_internal/tessdata."
    items = {text: (enabled, tip) for text, _, enabled, tip in _items(dialog)}
    assert items["Italiano (not installed)"] == (False, how)
    assert items["Italiano + English (not installed)"] == (False, how)
    assert items["Deutsch + English"] == (True, None)
    assert dialog.storage.ocr_hint.text() == (
        "For scanned pages (Tesseract 5.5.4; installed: English, Français, Deutsch, Español, "
        "Nederlands)."
    )
    assert dialog.storage.ocr_hint.styleSheet() == ""  # nothing wrong with the choice


def test_a_saved_choice_that_lacks_a_language_stays_and_says_why(qtbot, engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", TESSDATA, ("eng", "fra")))
    dialog = _dialog(qtbot, Settings(ocr_languages="ita+eng"))
    assert dialog.storage.ocr_languages.currentText() == "Italiano + English (not installed)"
    assert dialog.storage.ocr_hint.text() == (
        "To read ita, copy ita.traineddata (tessdata_fast) into /opt/folio/_internal/tessdata."
    )
    assert "color" in dialog.storage.ocr_hint.styleSheet() and dialog.storage.ocr_hint.isEnabled()
    assert dialog.result_settings().ocr_languages == "ita+eng"  # OK does not change it
    dialog.storage.ocr_languages.setCurrentText("Français + English")
    assert dialog.storage.ocr_hint.text() == (
        "For scanned pages (Tesseract 5.5.4; installed: English, Français)."
    )
    assert dialog.storage.ocr_hint.styleSheet() == ""


def test_a_combination_the_list_does_not_offer_is_shown(qtbot, engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", TESSDATA, ALL_SIX))
    dialog = _dialog(qtbot, Settings(ocr_languages="deu+fra"))
    assert dialog.storage.ocr_languages.currentText() == "Deutsch + Français"
    assert [text for text, *_ in _items(dialog)] == [*CHOICES, "Deutsch + Français"]
    assert dialog.result_settings().ocr_languages == "deu+fra"


def test_no_engine(qtbot, engine) -> None:
    problem = "the OCR engine is not installed (No module named 'tesserocr')"
    engine(ocr.EngineInfo("Tesseract", "", None, (), problem))
    dialog = _dialog(qtbot, Settings(ocr_languages="nld+eng"))
    assert not dialog.storage.ocr_languages.isEnabled()
    assert dialog.storage.ocr_languages.currentText() == "Nederlands + English"
    assert dialog.storage.ocr_hint.text() == (
        "OCR is not available: the OCR engine is not installed (No module named 'tesserocr')"
    )
    assert dialog.result_settings().ocr_languages == "nld+eng"


def test_with_the_real_engine(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stand-in: the installed tesserocr, and a tessdata folder with English and French."""
    pytest.importorskip("tesserocr")
    for language in ("eng", "fra"):
        (tmp_path / f"{language}.traineddata").write_bytes(b"stand-in")
    monkeypatch.setenv(ocr.TESSDATA_ENV, str(tmp_path))
    dialog = _dialog(qtbot, Settings(ocr_languages="fra+eng"))
    enabled = [text for text, _, on, _ in _items(dialog) if on]
    assert enabled == ["English", "Français", "Français + English"]
    assert dialog.storage.ocr_hint.text().endswith("; installed: English, Français).")
