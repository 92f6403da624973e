"""`folio system` names the OCR engine and its languages, says how to add a language the
user's OCR setting needs, and says so when there is no engine at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.documents import ocr
from desktop_app.core.hardware.system_report import format_ocr, ocr_report

BUNDLE_TESSDATA = Path("/opt/folio/_internal/tessdata")
ALL_SIX = ("deu", "eng", "fra", "ita", "nld", "spa")
ROOT = Path(__file__).resolve().parents[2]


def _lines(wanted: str) -> list[str]:
    return format_ocr(ocr_report(wanted))


def test_every_language_installed(engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", BUNDLE_TESSDATA, ALL_SIX))
    assert _lines("fra+eng") == [
        "OCR: Tesseract 5.5.4, languages: deu, eng, fra, ita, nld, spa "
        "(tessdata: /opt/folio/_internal/tessdata)"
    ]


def test_a_missing_language_of_the_setting_says_how_to_add_it(engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", BUNDLE_TESSDATA, ("fra", "eng")))
    assert _lines("ita+eng+deu") == [
        "OCR: Tesseract 5.5.4, languages: eng, fra (tessdata: /opt/folio/_internal/tessdata)",
        "  ita is not installed (OCR setting: ita+eng+deu). "
        "To read ita, copy ita.traineddata (tessdata_fast) into /opt/folio/_internal/tessdata.",
        "  deu is not installed (OCR setting: ita+eng+deu). "
        "To read deu, copy deu.traineddata (tessdata_fast) into /opt/folio/_internal/tessdata.",
    ]


def test_no_engine(engine) -> None:
    problem = "the OCR engine is not installed (No module named 'tesserocr')"
    engine(ocr.EngineInfo("Tesseract", "", None, (), problem))
    assert _lines("eng") == [
        "OCR: not available: the OCR engine is not installed (No module named 'tesserocr')"
    ]


def test_engine_without_language_data(engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", None, (), "no Tesseract language data found"))
    report = ocr_report("eng")
    assert report["missing"] == {"eng": ocr.EngineInfo(
        "Tesseract", "5.5.4", None, ()).how_to_add("eng")}  # fmt: skip
    assert format_ocr(report)[:2] == [
        "OCR: Tesseract 5.5.4, languages: none (tessdata: not found)",
        "  no Tesseract language data found",
    ]


def test_json_shape(engine) -> None:
    engine(ocr.EngineInfo("Tesseract", "5.5.4", BUNDLE_TESSDATA, ("eng", "fra")))
    assert json.loads(json.dumps(ocr_report("fra+eng"))) == {
        "engine": "Tesseract",
        "version": "5.5.4",
        "tessdata": "/opt/folio/_internal/tessdata",
        "languages": ["eng", "fra"],
        "problem": "",
        "wanted": "fra+eng",
        "missing": {},
    }


def test_folio_system_reads_the_users_setting(tmp_path: Path, folio_home: Path) -> None:
    """The real command: the real engine, tessdata from FOLIO_TESSDATA, the saved setting."""
    tesserocr = pytest.importorskip("tesserocr")
    pytest.importorskip("llama_cpp")
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir()
    for language in ("eng", "fra", "osd"):  # listed, never loaded, by `folio system`
        (tessdata / f"{language}.traineddata").write_bytes(b"stand-in")
    settings.save(settings.Settings(ocr_languages="ita+eng"))
    env = {**os.environ, "FOLIO_HOME": str(folio_home), "FOLIO_TESSDATA": str(tessdata)}
    command = [sys.executable, "-m", "desktop_app", "system"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout  # fmt: skip
    version = tesserocr.tesseract_version().split()[1]
    ocr_lines = [line for line in out.splitlines() if line.startswith(("OCR", "  ita"))]
    assert ocr_lines == [
        f"OCR: Tesseract {version}, languages: eng, fra (tessdata: {tessdata})",
        "  ita is not installed (OCR setting: ita+eng). "
        f"To read ita, copy ita.traineddata (tessdata_fast) into {tessdata}.",
    ]
