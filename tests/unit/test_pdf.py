"""PDF extraction: pages, labels, reading order, encryption, damaged and hostile files.

Every fixture is generated here (tests/fixtures/pdf_factory.py), so each fact a
test looks for is visible in the test that looks for it.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf.errors import DependencyError

from desktop_app.core.documents import pdf
from desktop_app.core.documents.model import Extracted
from desktop_app.errors import DocumentError, PasswordRequired
from tests.fixtures.pdf_factory import (
    encrypt,
    long_pdf_fact,
    make_long_pdf,
    make_pdf,
    make_two_column_pdf,
)

NAME = "contract.pdf"


def run(data: bytes, password: str | None = None, progress=None) -> Extracted:
    return pdf.extract(data, name=NAME, password=password, progress=progress)


def test_facts_land_on_their_physical_pages():
    facts = [f"Fact {n}: the deposit for lot {n} is {n * 13} euros." for n in range(1, 6)]
    result = run(make_pdf(facts))
    assert [u.number for u in result.units] == [1, 2, 3, 4, 5]
    assert {u.kind for u in result.units} == {"page"}
    for unit, fact in zip(result.units, facts, strict=True):
        assert unit.text == fact
        assert unit.label is None  # no /PageLabels: the number says it all
    assert result.warnings == ()
    assert result.title is None
    assert result.cacheable


def test_long_pdf_every_fact_on_its_page_and_progress_per_page():
    calls: list[tuple[int, int]] = []
    result = run(make_long_pdf(40), progress=lambda done, total: calls.append((done, total)))
    assert len(result.units) == 40
    for n, unit in enumerate(result.units, start=1):
        assert long_pdf_fact(n) in unit.text
        assert long_pdf_fact(n + 1) not in unit.text
    assert calls == [(n, 40) for n in range(1, 41)]
    assert result.title == "Supply Agreement"


def test_line_breaks_kept_and_whitespace_tidied():
    # pypdf's own output rarely has these; the clean-up is tested on its own.
    raw = "  \nFirst line  \r\nSecond\x00 line\t\n\n\n\n\nAfter\x0c a gap \n\n"
    assert pdf._clean(raw) == "First line\nSecond line\n\nAfter a gap"


def test_page_labels_kept_when_they_say_more_than_the_number():
    data = make_pdf(
        ["Preface", "Contents", "Body one", "Body two", "Body three"],
        labels=[(0, 1, "/r", None), (2, 4, "/D", "A-")],
    )
    units = run(data).units
    assert [u.label for u in units] == ["i", "ii", "A-1", "A-2", "A-3"]
    assert [u.number for u in units] == [1, 2, 3, 4, 5]
    assert units[3].locator() == "[Page A-2]"


def test_page_labels_equal_to_the_number_are_dropped():
    data = make_pdf(["one", "two", "three"], labels=[(0, 2, "/D", None)])
    assert [u.label for u in run(data).units] == [None, None, None]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Master Services Agreement", "Master Services Agreement"),
        ("  Lease\n2024 ", "Lease 2024"),
        ("   ", None),
    ],
)
def test_title_from_metadata(title: str, expected: str | None):
    assert run(make_pdf(["body"], title=title)).title == expected


def test_two_columns_read_column_one_then_column_two():
    left = " ".join(f"west{n:02d}" for n in range(80))
    right = " ".join(f"east{n:02d}" for n in range(80))
    text = run(make_two_column_pdf(left, right)).units[0].text
    west = [text.index(f"west{n:02d}") for n in range(80)]
    east = [text.index(f"east{n:02d}") for n in range(80)]
    assert west == sorted(west) and east == sorted(east)
    assert max(west) < min(east)


def test_image_only_page_is_kept_and_handed_to_ocr():
    """pypdf's part: the page stays (numbers stay true) and is named for OCR (scanned.py),
    which reads it or says why it cannot."""
    result = run(make_pdf(["Cover letter", None, "Signature page"]))
    assert [u.number for u in result.units] == [1, 2, 3]
    assert result.units[1].text == ""
    assert (result.scanned, result.warnings) == ((2,), ())


def test_several_image_only_pages_are_all_named():
    result = run(make_pdf([None, "text", None, None, None, "more"]))
    assert result.scanned == (1, 3, 4, 5)


@pytest.mark.parametrize("algorithm", ["AES-256", "AES-128", "RC4-128"])
def test_encrypted_pdf_needs_the_right_password(algorithm: str):
    data = encrypt(make_pdf(["The escrow code is 4711."]), "s3cret", algorithm)

    with pytest.raises(PasswordRequired) as missing:
        run(data)
    assert not missing.value.wrong_password
    assert str(missing.value) == f"{NAME} is password-protected. Enter its password to open it."

    with pytest.raises(PasswordRequired) as wrong:
        run(data, password="guess")
    assert wrong.value.wrong_password
    assert str(wrong.value) == f"The password for {NAME} is not correct."

    result = run(data, password="s3cret")
    assert result.units[0].text == "The escrow code is 4711."
    assert not result.cacheable


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_encrypted_pdf_with_empty_user_password_opens_without_asking(algorithm: str):
    data = encrypt(make_pdf(["Open to all readers."]), "", algorithm)
    for password in (None, "anything"):
        result = run(data, password=password)
        assert result.units[0].text == "Open to all readers."
        assert not result.cacheable


def test_password_for_an_unencrypted_file_is_ignored():
    result = run(make_pdf(["plain"]), password="unneeded")
    assert result.units[0].text == "plain"
    assert result.cacheable


def test_missing_aes_support_is_named_not_blamed_on_the_file(monkeypatch: pytest.MonkeyPatch):
    """Without `cryptography` pypdf cannot do AES: an installation problem, said so."""

    def no_aes(*args, **kwargs):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    data = encrypt(make_pdf(["secret"]), "", "AES-128")
    monkeypatch.setattr(pdf.PageObject, "extract_text", no_aes)
    with pytest.raises(DocumentError, match="lacks the 'cryptography' package"):
        run(data)
    monkeypatch.setattr(pdf, "PdfReader", no_aes)
    with pytest.raises(DocumentError, match="lacks the 'cryptography' package"):
        run(data)


def test_truncated_pdf_is_refused_clearly_or_read_in_part():
    data = make_long_pdf(20)
    with pytest.raises(DocumentError, match=f"^{NAME} is damaged and cannot be read as a PDF.$"):
        run(data[: int(len(data) * 0.6)])  # fpdf2 writes fonts last: no text survives

    result = run(data[: int(len(data) * 0.95)])  # only the trailer and xref are lost
    assert "damaged or incomplete" in result.warnings[0]
    assert long_pdf_fact(7) in result.units[6].text


def test_unreadable_page_costs_only_that_page(monkeypatch: pytest.MonkeyPatch):
    real = pdf.PageObject.extract_text

    def fragile(page, *args, **kwargs):
        text = real(page, *args, **kwargs)
        if "Page four" in text:
            raise ValueError("broken content stream")
        return text

    monkeypatch.setattr(pdf.PageObject, "extract_text", fragile)
    pages = ["Page one", "Page two", "Page three", "Page four", "Page five"]
    result = run(make_pdf(pages))
    assert [u.text for u in result.units] == ["Page one", "Page two", "Page three", "", "Page five"]
    assert result.warnings == ("page 4 could not be read (damaged)",)


def test_runaway_pages_are_capped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pdf, "MAX_PAGE_CHARS", 10)
    result = run(make_pdf(["0123456789abcdef", "short"]))
    assert [u.text for u in result.units] == ["0123456789", "short"]
    assert result.warnings == (
        "page 1 has more than 10 characters of text; only the first 10 are used.",
    )

    monkeypatch.setattr(pdf, "MAX_CONTENT_BYTES", 10)
    result = run(make_pdf(["one", "two"]))
    assert [u.text for u in result.units] == ["", ""]
    assert result.warnings == (
        "pages 1–2 were skipped: more than 0 MB of drawing instructions is too much to search "
        "for text.",
    )


def test_png_is_not_a_pdf():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    with pytest.raises(DocumentError, match="is damaged and cannot be read as a PDF"):
        run(buf.getvalue())


def _extract_or_refuse(data: bytes) -> None:
    """What every input must do: give pages or a DocumentError, nothing else."""
    try:
        result = run(data)
    except DocumentError:  # PasswordRequired included
        return
    assert isinstance(result, Extracted)
    assert [u.number for u in result.units] == list(range(1, len(result.units) + 1))


_FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_escape(data: bytes):
    _extract_or_refuse(data)


@_FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_after_a_pdf_header_never_escape(data: bytes):
    _extract_or_refuse(b"%PDF-1.4\n" + data)


_SAMPLE = make_pdf(["Alpha", None, "Gamma"], labels=[(0, 2, "/r", None)], title="Sample")


@_FUZZ
@given(st.data())
def test_mutated_pdf_never_escapes(data: st.DataObject):
    """Damage close to a real file reaches deeper into pypdf than random bytes do."""
    mutated = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at : at + data.draw(st.integers(0, 16))] = data.draw(st.binary(max_size=16))
    _extract_or_refuse(bytes(mutated))


def test_ligatures_become_the_letters_they_stand_for():
    """A held-out PDF set "misfits" with an fi ligature; the word could not be found."""
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.add_font("DejaVu", fname="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    doc.set_font("DejaVu", size=12)
    doc.cell(0, 10, "The mis\ufb01ts \ufb02oor o\ufb00ers e\ufb03cient ba\ufb04es.")
    text = pdf.extract(bytes(doc.output()), name="lig.pdf", password=None, progress=None)
    text = text.units[0].text
    assert text == "The misfits floor offers efficient baffles."
