"""`folio extract`: exactly the text the model sees, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.docx_factory import make_contract_docx
from tests.fixtures.pdf_factory import encrypt, make_pdf
from tests.support import run_folio

FACTS = ["The supplier is Acme GmbH.", "The fee is 1,250 euros.", "Either party may terminate."]


@pytest.fixture
def pdf_file(tmp_path: Path) -> Path:
    path = tmp_path / "contract.pdf"
    path.write_bytes(make_pdf(FACTS))
    return path


def test_extract_prints_page_locators(pdf_file: Path, folio_home: Path):
    out = run_folio("extract", str(pdf_file), home=folio_home)
    assert out.returncode == 0, out.stderr
    for n, fact in enumerate(FACTS, start=1):
        assert f"[Page {n}]" in out.stdout
        assert out.stdout.index(f"[Page {n}]") < out.stdout.index(fact)


def test_extract_json_shape_and_tokens(pdf_file: Path, folio_home: Path, smollm2_gguf: Path):
    out = run_folio("extract", str(pdf_file), "--json", home=folio_home)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert set(record) == {"file", "sha256", "type", "units", "warnings", "tokens"}
    assert record["type"] == "pdf" and len(record["sha256"]) == 64
    assert record["tokens"] is None, "no model configured or given"
    assert [u["number"] for u in record["units"]] == [1, 2, 3]
    assert all(u["kind"] == "page" for u in record["units"])
    assert FACTS[1] in record["units"][1]["text"]
    with_model = run_folio("extract", str(pdf_file), "--json", "--model", str(smollm2_gguf),
                           home=folio_home)  # fmt: skip
    assert isinstance(json.loads(with_model.stdout)["tokens"], int)
    assert json.loads(with_model.stdout)["tokens"] > 20


def test_extract_docx_sections(tmp_path: Path, folio_home: Path):
    path = tmp_path / "contract.docx"
    path.write_bytes(make_contract_docx())
    out = run_folio("extract", str(path), "--json", home=folio_home)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["type"] == "docx"
    assert any(u["kind"] == "section" and u["label"] for u in record["units"])


def test_encrypted_pdf_needs_the_right_password(tmp_path: Path, folio_home: Path):
    path = tmp_path / "secret.pdf"
    path.write_bytes(encrypt(make_pdf(FACTS), "s3cret", "AES-256"))
    missing = run_folio("extract", str(path), home=folio_home)
    assert missing.returncode == 2
    assert "password-protected" in missing.stderr and "--password" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    wrong = run_folio("extract", str(path), "--password", "nope", home=folio_home)
    assert wrong.returncode == 2 and "not correct" in wrong.stderr
    right = run_folio("extract", str(path), "--password", "s3cret", home=folio_home)
    assert right.returncode == 0 and FACTS[0] in right.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "is a damaged image"),
        ("anim.pdf", b"GIF89a" + b"\x00" * 100, "GIF image"),
        ("random.docx", bytes(range(256)) * 4, "binary"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_bad_files_one_line(tmp_path: Path, folio_home: Path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    out = run_folio("extract", str(path), home=folio_home)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_link_to_a_device_is_refused_before_reading(tmp_path: Path, folio_home: Path):
    """Measured before the fix: `folio extract` on a link to /dev/zero grew to 24 GB."""
    link = tmp_path / "contract.pdf"
    link.symlink_to("/dev/zero")
    out = run_folio("extract", str(link), home=folio_home)  # run_folio times out at 300 s
    assert out.returncode == 2
    assert out.stderr.strip() == "folio: contract.pdf is not a regular file (a device)."


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path, folio_home: Path):
    import os

    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    out = run_folio("extract", str(fifo), home=folio_home)
    assert out.returncode == 2
    assert out.stderr.strip() == "folio: notes.txt is not a regular file (a pipe)."
