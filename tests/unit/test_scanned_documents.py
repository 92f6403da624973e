"""Scans become documents: generated scans of known text, read through the document library
(the reader child, OCR included), with every fact on its page, marked as read by OCR, and
citations on them checked like any other.

The pages are short (a few lines each), so OCR takes a fraction of a second a page; the
full-page accuracy and speed are measured in benchmarks/ocr.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from desktop_app.core.chat import citations
from desktop_app.core.documents import cache, isolated, ocr
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.errors import DocumentError, OcrUnavailable
from tests.fixtures import scans

pytestmark = pytest.mark.skipif(
    bool(ocr.engine_info().problem), reason=f"no OCR engine: {ocr.engine_info().problem}"
)

PAGES = [
    "LEASE AGREEMENT\nThe landlord is Harrow & Finch plc, London.\nThe tenant is Ada Byron.",
    "2. RENT\nThe monthly rent is EUR 1,850.00, payable in advance.\nDeposit: two months.",
    "3. NOTICE\nEither party may end this lease with ninety days' written notice.",
]


def _flat(text: str) -> str:
    """The text on one line, with the engine's typographic apostrophe as the page's."""
    return " ".join(text.split()).replace("’", "'")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_scanned_pdf_reads_with_every_fact_on_its_page(tmp_path: Path) -> None:
    path = _write(tmp_path, "lease-signed.pdf", scans.scan_pdf(PAGES, dpi=300))
    stages: list[tuple[int, int, str]] = []
    doc = DocumentLibrary().read(path, progress=lambda *p: stages.append(p))
    texts = [_flat(u.text) for u in doc.units]
    assert "The landlord is Harrow & Finch plc, London." in texts[0]
    assert "The monthly rent is EUR 1,850.00, payable in advance." in texts[1]
    assert "Either party may end this lease with ninety days' written notice." in texts[2]
    assert [u.heading() for u in doc.units] == [
        "[Page 1 · OCR]", "[Page 2 · OCR]", "[Page 3 · OCR]"
    ]  # fmt: skip
    assert doc.warnings[0].startswith("pages 1–3 read by OCR (mean confidence ")
    assert stages[-1] == (3, 3, "ocr")
    # The words keep their place on the page: "1,850.00" is where the typesetter put it.
    rent = doc.units[1]
    word = next(w for w in rent.ocr.words if rent.text[w.start : w.end] == "1,850.00,")
    expected = scans.word_box(scans.text_pdf(PAGES), 1, "1,850.00")
    assert word.box == pytest.approx(expected[:2] + (word.box[2], expected[3]), abs=0.01)


def test_the_second_open_is_instant_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, "scan.pdf", scans.scan_pdf(PAGES[:1], dpi=300))
    first = DocumentLibrary().read(path)
    assert cache.get(first.sha256) == first.for_path(Path(first.path))
    monkeypatch.setattr(isolated, "extract", lambda *a, **k: pytest.fail("parsed again"))
    again = DocumentLibrary().read(path)  # a new run: known by its bytes, from the cache
    assert again.units == first.units and again.units[0].ocr is not None


def test_a_sideways_and_an_upside_down_scan_are_read_upright(tmp_path: Path) -> None:
    path = _write(tmp_path, "turned.pdf", scans.scan_pdf(PAGES[1:], dpi=300, rotate=[90, 180]))
    doc = DocumentLibrary().read(path)
    assert "monthly rent is EUR 1,850.00" in _flat(doc.units[0].text)
    assert "ninety days' written notice" in _flat(doc.units[1].text)
    assert [u.ocr.rotation for u in doc.units] == [270, 180]


def test_a_junk_text_layer_is_replaced_by_what_the_scan_says(tmp_path: Path) -> None:
    data = scans.scan_pdf(PAGES[1:2], dpi=300, junk_text_layer=True)
    doc = DocumentLibrary().read(_write(tmp_path, "copier.pdf", data))
    unit = doc.units[0]
    assert "The monthly rent is EUR 1,850.00" in _flat(unit.text)
    assert unit.ocr is not None and unit.ocr.replaced_text_layer
    assert "page 1: the text layer was unreadable; read again by OCR." in doc.warnings


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_image_file_is_a_document(tmp_path: Path, fmt: str) -> None:
    data = scans.scan_image(PAGES[2], fmt=fmt, dpi=300, noise=6.0)
    doc = DocumentLibrary().read(_write(tmp_path, f"photo.{fmt.lower()}", data))
    assert doc.type == "image" and doc.pages == 1
    assert "ninety days' written notice" in _flat(doc.units[0].text)


def test_a_multi_page_tiff_is_one_page_a_frame(tmp_path: Path) -> None:
    doc = DocumentLibrary().read(_write(tmp_path, "fax.tiff", scans.scan_tiff(PAGES, dpi=300)))
    assert doc.pages == 3
    assert "EUR 1,850.00" in doc.units[1].text and "ninety days" in doc.units[2].text


def test_a_citation_on_a_scanned_page_is_checked_like_any_other(tmp_path: Path) -> None:
    doc = DocumentLibrary().read(_write(tmp_path, "lease.pdf", scans.scan_pdf(PAGES, dpi=300)))
    answer = (
        'The rent is EUR 1,850.00 [Page 2 · OCR: "monthly rent is EUR 1,850.00"], and notice '
        'takes ninety days [Page 2: "ninety days\' written notice"]. Pets [Page 3: "no pets"].'
    )
    checked = citations.Checker([doc]).check(answer)
    assert [(c.status, c.unit.number if c.unit else None) for c in checked] == [
        ("verified", 2), ("elsewhere", 3), ("not_found", None)
    ]  # fmt: skip


def test_cancelling_a_long_scan_leaves_nothing_half_cached(tmp_path: Path) -> None:
    path = _write(tmp_path, "long.pdf", scans.scan_pdf(PAGES * 170, dpi=150))  # 510 pages
    cancel = threading.Event()
    seen: list[str] = []

    def progress(done: int, total: int, stage: str) -> None:
        seen.append(stage)
        if stage == "ocr":
            cancel.set()

    library = DocumentLibrary()
    with pytest.raises(isolated.Cancelled):
        library.read(path, progress=progress, cancel=cancel)
    assert "ocr" in seen
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cache.get(sha) is None and library.get(sha) is None


def test_an_ocr_child_over_its_memory_limit_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    """Tesseract aborts on a failed allocation (std::bad_alloc, SIGABRT), OpenBLAS exits 1:
    whichever, the user reads one line that says what happened."""
    path = _write(tmp_path, "scan.pdf", scans.scan_pdf(PAGES[:1], dpi=300))
    real = isolated.extract
    monkeypatch.setattr(
        isolated, "extract",
        lambda *a, **k: real(*a, **{**k, "memory_limit_bytes": 150 * 1024**2}),
    )  # fmt: skip
    with pytest.raises(DocumentError) as info:
        DocumentLibrary().read(path)
    assert str(info.value) == "Reading scan.pdf was stopped: it needed too much memory or crashed."


def test_without_the_language_the_scan_says_how_to_add_it(tmp_path: Path, monkeypatch) -> None:
    english_only = tmp_path / "tessdata"
    english_only.mkdir()
    (english_only / "eng.traineddata").symlink_to(ocr.tessdata_dir() / "eng.traineddata")
    monkeypatch.setenv(ocr.TESSDATA_ENV, str(english_only))
    french = DocumentLibrary(ocr_languages="fra")
    path = _write(tmp_path, "photo.png", scans.scan_image(PAGES[0], dpi=300))
    with pytest.raises(OcrUnavailable) as info:
        french.read(path)
    assert str(info.value).startswith("photo.png is an image, and ")
    assert ocr.engine_info().how_to_add("fra") in str(info.value)
    mixed = _write(tmp_path, "mixed.pdf", scans.scan_pdf(PAGES[:1], dpi=300))
    with pytest.raises(DocumentError) as info:
        french.read(mixed)
    assert "page 1 is a scan (" in str(info.value) and "so the model cannot see it" in str(
        info.value
    )


def test_a_scan_dropped_again_in_other_languages_is_read_again(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.pdf", scans.scan_pdf(PAGES[:1], dpi=300))
    library = DocumentLibrary(ocr_languages="eng")
    first = library.read(path)
    assert first.units[0].ocr.languages == "eng"
    library.configure(library.max_bytes, "fra+eng")
    again = library.read(path)
    assert again.units[0].ocr.languages == "fra+eng"
    # Reopening a conversation uses what was read, whatever the setting (no minutes of OCR
    # before the model can answer).
    assert library.resolve([(str(path), first.sha256)]).documents[0].units == again.units


def test_a_french_scan_read_as_english_suggests_its_language(tmp_path: Path) -> None:
    pages = scans.contract_pages(2, "fr", seed=4)
    path = _write(tmp_path, "bail.pdf", scans.scan_pdf(pages, dpi=300, noise=6.0, seed=4))
    hint = (
        "many words were hard to read in English: if the document is in another language, "
        "choose it in Settings → Documents and attach the file again."
    )
    assert hint in DocumentLibrary(ocr_languages="eng").read(path).warnings
    in_french = DocumentLibrary(ocr_languages="fra+eng").read(path)
    assert not any(w.startswith("many words") for w in in_french.warnings)
    assert "reçues" in in_french.model_text() or "août" in in_french.model_text()
