"""The OCR engine wrapper (core/documents/ocr.py) on generated scans of known text.

Every expectation is a fact the fixture put there: the sentence typeset on the page, the
place PDFium drew a word, the turn and skew the scanner applied. Pages are full A4 contract
pages, each read once (about 1.2 s a page), so the whole file takes about 12 s.
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("tesserocr")

from desktop_app.core.documents import ocr  # noqa: E402
from tests.fixtures import scans  # noqa: E402

INFO = ocr.engine_info()
pytestmark = pytest.mark.skipif(bool(INFO.problem), reason=f"no OCR engine: {INFO.problem}")

EN = scans.contract_pages(1, "en")
EN_FACT = scans.page_facts(1, "en")[0]
FR = scans.contract_pages(1, "fr", seed=3)
#: A box from OCR (ink) and one from PDFium (glyph cells) of the same word agree to this
#: fraction of the page: 0.6 mm across and 0.9 mm down an A4 page (measured: 0.0007).
BOX_TOLERANCE = 0.003


@pytest.fixture(scope="module")
def english() -> Iterator[ocr.OcrReader]:
    reader = ocr.OcrReader("eng")
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def clean(english: ocr.OcrReader) -> ocr.OcrPage:
    return english.read(scans.scan_images(EN, dpi=300)[0])


def _known_word() -> str:
    """The longest word of the page's fact that occurs once on the page (a box to find)."""
    words = [
        w for w in re.findall(r"[A-Za-z]+", EN_FACT) if len(re.findall(rf"\b{w}\b", EN[0])) == 1
    ]
    return max(words, key=len)


def _ocr_box(page: ocr.OcrPage, word: str) -> tuple[float, ...]:
    found = [w.box for w in page.words if page.text[w.start : w.end].strip(".,;:") == word]
    assert len(found) == 1, f"{word!r} read {len(found)} times"
    return found[0]


def test_engine_info_lists_the_bundled_languages_and_not_osd() -> None:
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", INFO.version)
    assert INFO.tessdata == ocr.tessdata_dir()
    installed = {p.stem for p in INFO.tessdata.glob("*.traineddata")} - {"osd"}
    assert INFO.languages == tuple(sorted(installed))
    if set(ocr.BUNDLED_LANGUAGES) <= installed:
        assert set(ocr.BUNDLED_LANGUAGES) <= set(INFO.languages)
    assert "osd" not in INFO.languages
    assert INFO.missing("eng+xyz+eng") == ("xyz",)
    how = INFO.how_to_add("xyz")  # a file to copy, or the Debian package to install
    assert "xyz.traineddata" in how or "tesseract-ocr-xyz" in how


def test_folio_tessdata_wins_and_a_missing_language_is_named(tmp_path: Path, monkeypatch) -> None:
    english_only = tmp_path / "tessdata"
    english_only.mkdir()
    shutil.copy(INFO.tessdata / "eng.traineddata", english_only)
    monkeypatch.setenv(ocr.TESSDATA_ENV, str(english_only))
    info = ocr.engine_info()
    assert (info.tessdata, info.languages, info.problem) == (english_only, ("eng",), "")
    with pytest.raises(ocr.OcrUnavailable) as raised:
        ocr.OcrReader("fra+eng")
    assert "fra" in str(raised.value) and info.how_to_add("fra") in str(raised.value)
    (english_only / "eng.traineddata").unlink()
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "nowhere"))
    assert ocr.tessdata_dir() != english_only  # an empty folder is passed over


def test_a_clean_page_reads_verbatim(clean: ocr.OcrPage) -> None:
    assert any(line.endswith(f" {EN_FACT}") for line in clean.text.splitlines())  # verbatim
    assert "SERVICE AGREEMENT — Page 1 of 1" in clean.text
    assert scans.word_accuracy(EN[0], clean.text) >= 0.98
    assert (clean.rotation, clean.skew) == (0, 0.0)
    assert 85 <= clean.confidence <= 100


def test_word_offsets_slice_the_text_exactly(clean: ocr.OcrPage) -> None:
    words = [clean.text[w.start : w.end] for w in clean.words]
    assert words == clean.text.split()  # every word, in order, nothing else between them
    gaps = {clean.text[a.end : b.start] for a, b in itertools.pairwise(clean.words)}
    assert gaps == {" ", "\n", "\n\n"}
    assert clean.text == clean.text.strip() and " \n" not in clean.text
    mean = sum(w.confidence for w in clean.words) / len(clean.words)
    assert clean.confidence == pytest.approx(mean)


def test_a_word_box_is_where_the_typesetter_put_it(clean: ocr.OcrPage) -> None:
    pdf = scans.text_pdf(EN)
    for word in ("AGREEMENT", _known_word()):
        assert _ocr_box(clean, word) == pytest.approx(
            scans.word_box(pdf, 0, word), abs=BOX_TOLERANCE
        )


@pytest.mark.parametrize("turned", [90, 180])
def test_a_turned_page_is_read_upright_with_boxes_on_the_turned_image(
    english: ocr.OcrReader, turned: int
) -> None:
    page = english.read(scans.scan_images(EN, dpi=300, rotate=turned)[0])
    assert page.rotation == (360 - turned) % 360
    assert EN_FACT in page.text
    assert scans.word_accuracy(EN[0], page.text) >= 0.98
    expected = scans.turn_box(scans.word_box(scans.text_pdf(EN), 0, _known_word()), turned)
    assert _ocr_box(page, _known_word()) == pytest.approx(expected, abs=BOX_TOLERANCE)


@pytest.mark.parametrize("turned", [0, 90])  # both line directions, both of each pair of turns
def test_without_osd_data_the_turn_is_found_by_reading(
    tmp_path: Path, monkeypatch, turned: int
) -> None:
    (tmp_path / "eng.traineddata").symlink_to(INFO.tessdata / "eng.traineddata")
    monkeypatch.setenv(ocr.TESSDATA_ENV, str(tmp_path))  # no osd.traineddata there
    reader = ocr.OcrReader("eng")
    try:
        page = reader.read(scans.scan_images(EN, dpi=300, rotate=turned)[0])
    finally:
        reader.close()
    assert page.rotation == (360 - turned) % 360
    assert scans.word_accuracy(EN[0], page.text) >= 0.98


def _skewed_box(box: tuple[float, ...], degrees: float, size: tuple[int, int]) -> tuple:
    """`box` (fractions) after `distort(skew=degrees)`: PIL's rotation about the centre."""
    w, h = size
    r = math.radians(degrees)
    points = []
    for x, y in ((box[0] * w, box[1] * h), (box[2] * w, box[1] * h), (box[0] * w, box[3] * h),
                 (box[2] * w, box[3] * h)):  # fmt: skip
        dx, dy = x - w / 2, y - h / 2
        points.append((w / 2 + dx * math.cos(r) + dy * math.sin(r),
                       h / 2 - dx * math.sin(r) + dy * math.cos(r)))  # fmt: skip
    xs, ys = [p[0] / w for p in points], [p[1] / h for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def test_a_skewed_noisy_french_page_at_200_dpi(tmp_path: Path) -> None:
    image = scans.scan_images(FR, dpi=200, noise=20.0, blur=0.6, skew=-2.0, jpeg_quality=70)[0]
    reader = ocr.OcrReader("fra")
    try:
        page = reader.read(image)
    finally:
        reader.close()
    assert page.skew == pytest.approx(2.0, abs=0.3)  # turned back the way it was skewed
    assert page.rotation == 0
    assert scans.word_accuracy(FR[0], page.text) >= 0.95
    fact = scans.page_facts(1, "fr", seed=3)[0]
    assert " ".join(fact.split()) in " ".join(page.text.split())
    # The boxes still land on the skewed image as stored, not on the straightened copy: one
    # word far from the centre (the title's first), where a wrong turn back shows most.
    word = max((w for w in re.findall(r"\w+", fact) if FR[0].count(w) == 1), key=len)
    for known in ("CONTRAT", word):
        expected = _skewed_box(scans.word_box(scans.text_pdf(FR), 0, known), -2.0, image.size)
        assert _ocr_box(page, known) == pytest.approx(expected, abs=2 * BOX_TOLERANCE)


def test_a_blank_colour_page_reads_as_nothing(english: ocr.OcrReader) -> None:
    from PIL import Image

    page = english.read(Image.new("RGB", (1240, 1754), (250, 250, 250)))
    assert (page.text, page.words, page.rotation, page.confidence) == ("", (), 0, 0.0)


def test_a_huge_image_is_scaled_or_refused_before_it_costs_memory() -> None:
    from PIL import Image

    small = Image.new("L", (400, 300), 255)
    assert ocr._prepare(small) is small or ocr._prepare(small).size == (400, 300)
    big = Image.new("1", (9000, 8000), 1)  # 72 M pixels, 9 MB as 1-bit
    assert ocr._prepare(big).width * ocr._prepare(big).height <= ocr.MAX_PIXELS
    bomb = Image.new("1", (20000, 13000), 1)  # 260 M pixels
    with pytest.raises(ValueError, match="too large"):
        ocr._prepare(bomb)
