"""`folio summarize` on a folder, as a user runs it: the demo model, real files."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from desktop_app import settings as settings_mod
from tests.fixtures.docx_factory import to_bytes
from tests.fixtures.pdf_factory import make_pdf
from tests.support import run_folio

pytestmark = pytest.mark.model


@pytest.fixture
def short_summaries(folio_home: Path, smollm2_gguf: Path) -> Path:
    settings_mod.save(settings_mod.Settings(model_path=str(smollm2_gguf), max_answer_tokens=32,
                                            sampling={"temperature": 0.0}))  # fmt: skip
    return folio_home


def test_a_folder_gives_a_summary_per_document_and_a_rerun_skips_them(
    short_summaries: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "contract.pdf").write_bytes(
        make_pdf(
            ["Clause 1: the fee is 900 euros a month.", "Clause 2: the notice period is 90 days."]
        )
    )
    terms = docx.Document()
    terms.add_heading("Warranty", 1)
    terms.add_paragraph("The warranty lasts 24 months from delivery on 1 June 2026.")
    (docs / "terms.docx").write_bytes(to_bytes(terms))
    (docs / "notes.txt").write_text("Invoice 2026-117: 1,250 euros, due 3 March 2026.",
                                    encoding="utf-8")  # fmt: skip
    (docs / "broken.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "summaries"

    first = run_folio("summarize", str(docs), "--out", str(out), home=short_summaries)
    assert first.returncode == 1, first.stderr  # one file failed; the others were summarized
    assert "broken.pdf: failed: broken.pdf is a damaged image" in first.stderr
    assert "3 summarized, 0 unchanged, 1 failed" in first.stderr
    assert sorted(p.name for p in out.glob("*.md")) == ["contract.md", "notes.md", "terms.md"]
    for name in ("contract", "notes", "terms"):
        text = (out / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {name}.") and len(text.split("\n\n", 1)[1].strip()) > 10

    again = run_folio("summarize", str(docs), "--out", str(out), home=short_summaries)
    assert again.returncode == 1
    assert again.stderr.count("unchanged, skipped") == 3
    assert "0 summarized, 3 unchanged, 1 failed" in again.stderr


def test_a_document_longer_than_the_context_is_summarized_in_parts(
    short_summaries: Path, tmp_path: Path
) -> None:
    clause = "Clause {i}.{j}: the fee for item {i}-{j} is {fee} euros."
    sections = [
        f"## Section {i}\n\n"
        + " ".join(clause.format(i=i, j=j, fee=i * 100 + j) for j in range(1, 30))
        for i in range(1, 4)
    ]
    long = tmp_path / "long.md"
    long.write_text("\n\n".join(sections), encoding="utf-8")
    done = run_folio("summarize", str(long), "--ctx", "3300", home=short_summaries)
    assert done.returncode == 0, done.stderr
    # Never cut silently: the summary says how the whole document was covered.
    assert "_Summarized in 3 parts (§ Section 1, § Section 2, § Section 3), then combined._" in (
        done.stdout
    )
