"""Cited pages drawn by PDFium with the quote's boxes, checked against PDFium's own
character boxes; the render child: cache, passwords, a renderer that dies or hangs."""

from __future__ import annotations

import math
import string
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.documents import page_render, render_service, rendered_page
from desktop_app.core.documents.matching import normalize, normalize_mapped
from desktop_app.core.documents.render_service import PageRenderer
from desktop_app.errors import DocumentError, PasswordRequired
from tests.fixtures.pdf_factory import encrypt, make_pdf

PAGES = [
    "Lease agreement between the landlord and the tenant.\n"
    "The rent is 1,200 euros per month, payable in ad-\nvance on the first day of each month.\n"
    "Either party may end this lease with ninety (90) days' written notice.",
    None,  # scanned: an image, no text layer
]
SCALE = 2.0


@pytest.fixture(scope="module")
def lease_pdf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("render") / "lease.pdf"
    path.write_bytes(make_pdf(PAGES))
    return path


def _char_boxes(path: Path, first: int, count: int) -> list[tuple[float, float, float, float]]:
    """PDFium's own boxes of characters [first, first + count), in bitmap pixels."""
    doc = pdfium.PdfDocument(str(path))
    page = doc[0]
    height = page.get_height()
    textpage = page.get_textpage()
    boxes = []
    for i in range(first, first + count):
        left, bottom, right, top = textpage.get_charbox(i)
        if right > left:  # generated spaces and line breaks have no box
            boxes.append((left * SCALE, (height - top) * SCALE, right * SCALE,
                          (height - bottom) * SCALE))  # fmt: skip
    return boxes


def _search(path: Path, words: str) -> tuple[int, int]:
    """Where PDFium's own search finds `words` on page 1: (first char, count)."""
    textpage = pdfium.PdfDocument(str(path))[0].get_textpage()
    found = textpage.search(words).get_next()
    assert found is not None, words
    return found


def _inside(box, highlights, slack: float = 1.5) -> bool:
    x0, y0, x1, y1 = box
    return any(h[0] - slack <= x0 and h[1] - slack <= y0 and x1 <= h[2] + slack
               and y1 <= h[3] + slack for h in highlights)  # fmt: skip


def _centre_inside(box, highlights) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(h[0] <= cx <= h[2] and h[1] <= cy <= h[3] for h in highlights)


def _render(path: Path, quote: str | None, index: int = 0):
    return page_render.render(page_render.open_pdf(path, None), index, SCALE, quote)


def test_the_highlight_covers_exactly_the_quoted_words(lease_pdf: Path) -> None:
    quote = "ninety (90) days' written notice"
    page = _render(lease_pdf, quote)
    assert page.has_text and page.page_count == 2
    assert (page.width, page.height) == (math.ceil(595.28 * SCALE), math.ceil(841.89 * SCALE))
    first, count = _search(lease_pdf, quote)
    quoted = _char_boxes(lease_pdf, first, count)
    assert quoted and all(_inside(box, page.highlights) for box in quoted)
    others = _char_boxes(lease_pdf, 0, first)  # every character before the quote
    assert not any(_centre_inside(box, page.highlights) for box in others)


def test_a_quote_across_a_hyphenated_line_break_is_highlighted_on_both_lines(
    lease_pdf: Path,
) -> None:
    page = _render(lease_pdf, "payable in advance on the first day")
    assert len(page.highlights) == 2  # the end of one line, the start of the next
    top, bottom = sorted(page.highlights, key=lambda h: h[1])
    assert bottom[1] > top[3] - 2  # one below the other
    first, _ = _search(lease_pdf, "payable in ad")
    last, count = _search(lease_pdf, "vance on the first day")
    quoted = _char_boxes(lease_pdf, first, last + count - first)
    assert all(_inside(box, page.highlights) for box in quoted)


def test_a_quote_with_ocr_like_slips_is_found_and_an_invented_one_is_not(lease_pdf: Path) -> None:
    slipped = _render(lease_pdf, "the rent is 1,2OO eur0s per month")
    first, count = _search(lease_pdf, "The rent is 1,200 euros per month")
    assert all(_inside(box, slipped.highlights) for box in _char_boxes(lease_pdf, first, count))
    assert _render(lease_pdf, "the tenant may keep a dog").highlights == ()


def test_a_scanned_page_renders_with_nothing_to_highlight(lease_pdf: Path) -> None:
    page = _render(lease_pdf, "anything at all", index=1)
    assert not page.has_text and page.highlights == ()
    assert len(page.pixels) == page.stride * page.height
    # The grey scan is drawn: not a blank white page.
    assert any(page.pixels[i] < 250 for i in range(0, len(page.pixels), 4))


def test_fit_width_and_the_pixel_cap() -> None:
    doc = pdfium.PdfDocument(make_pdf(["One line."]))
    assert page_render.render(doc, 0, 1.0, None, fit_width=900).width == 900
    huge = page_render.render(doc, 0, 100.0, None)
    assert huge.width * huge.height <= rendered_page.MAX_PIXELS


def test_the_render_child_caches_pages_and_keeps_passwords_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    path.write_bytes(encrypt(make_pdf(PAGES), "hunter2"))
    renderer = PageRenderer()
    try:
        with pytest.raises(PasswordRequired):
            renderer.render(path, 1, SCALE, None)
        with pytest.raises(PasswordRequired) as wrong:
            renderer.render(path, 1, SCALE, None, "wrong")
        assert wrong.value.wrong_password
        page, cached = renderer.render(path, 1, SCALE, "written notice", "hunter2")
        assert not cached and len(page.highlights) == 1
        again, cached = renderer.render(path, 1, SCALE, "written notice", "hunter2")
        assert cached and again is page
        with pytest.raises(DocumentError, match="has 2 pages; there is no page 3"):
            renderer.render(path, 3, SCALE, None, "hunter2")
    finally:
        renderer.close()


def test_a_renderer_that_dies_or_hangs_is_replaced(lease_pdf: Path, monkeypatch) -> None:
    renderer = PageRenderer()
    try:
        renderer.render(lease_pdf, 1, SCALE, None)
        renderer._child.kill()  # it died between pages: the next page starts a new one
        renderer._child.wait()
        assert renderer.render(lease_pdf, 1, 1.5, None)[0].width == math.ceil(595.28 * 1.5)
        # A child that dies while answering (here: out of memory before it can) is an error
        # for that page, and the next page gets a new child.
        renderer._child.kill()
        monkeypatch.setattr(render_service, "MEMORY_LIMIT_BYTES", 32 * 1024**2)
        with pytest.raises(DocumentError, match="the renderer stopped"):
            renderer.render(lease_pdf, 1, 1.75, None)
        monkeypatch.undo()
        page, _ = renderer.render(lease_pdf, 1, 1.25, None)
        assert page.width == math.ceil(595.28 * 1.25)
        renderer._time_limit_s = 0.001  # any page is now "a hang"
        start = time.monotonic()
        with pytest.raises(DocumentError, match="took too long"):
            renderer.render(lease_pdf, 1, 3.0, None)
        assert time.monotonic() - start < 5
        renderer._time_limit_s = 30
        assert renderer.render(lease_pdf, 2, 1.0, None)[0].page_count == 2
    finally:
        renderer.close()


#: Text as extraction and PDF text layers give it: words, ligatures, curly quotes, soft and
#: line-end hyphens, runs of whitespace, letters that casefold longer ("ß").
_TEXT = st.lists(
    st.sampled_from(
        list(string.ascii_letters + string.digits + " \t\n\r-.,;:'\"()")
        + ["ﬁ", "ﬂ", "ﬀ", "“", "”", "‘", "’", "\u00ad", "ß", "é", "e\u0301", "İ", "\xa0"]
    ),
    max_size=80,
).map("".join)


@given(_TEXT)
def test_the_mapped_normalisation_equals_the_plain_one_and_maps_back(text: str) -> None:
    mapped, where = normalize_mapped(text)
    assert mapped == normalize(text)
    assert len(where) == len(mapped)
    assert where == sorted(where) and all(0 <= i < len(text) for i in where)


def test_a_rotated_page_is_drawn_turned_and_the_highlight_turns_with_it(tmp_path: Path) -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PAGES[:1]))))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "turned.pdf"
    path.write_bytes(out.getvalue())
    upright = _render(_upright(tmp_path), "written notice")
    turned = _render(path, "written notice")
    assert (turned.width, turned.height) == (upright.height, upright.width)
    ((x0, y0, x1, y1),) = turned.highlights
    assert y1 - y0 > 3 * (x1 - x0)  # the line of text now runs down the page
    # Under the box: the words' dark pixels (the box is where the text was drawn).
    dark = sum(
        turned.pixels[int(y) * turned.stride + int(x) * 4] < 128
        for y in range(int(y0), int(y1)) for x in range(int(x0), int(x1))
    )  # fmt: skip
    assert dark > 0.05 * (y1 - y0) * (x1 - x0)


def _upright(tmp_path: Path) -> Path:
    path = tmp_path / "upright.pdf"
    path.write_bytes(make_pdf(PAGES[:1]))
    return path


def test_a_page_of_a_multi_page_tiff_is_drawn_like_a_pdf_page(tmp_path: Path) -> None:
    """Scanned images are documents: the pane draws their frames (a TIFF's resolution is a
    rational number, which once made the child's answer fail to serialise)."""
    from tests.fixtures.scans import scan_tiff

    path = tmp_path / "fax.tiff"
    path.write_bytes(scan_tiff(["Page one of the fax.", "Page two of the fax."], dpi=200))
    renderer = PageRenderer()
    try:
        page, _ = renderer.render(path, 2, 1.0, None, None, 600)
        assert (page.width, page.page_count, page.has_text, page.highlights) == (600, 2, False, ())
        assert abs(page.height - 600 * 297 / 210) < 1.5  # an A4 frame, fitted to the width
        with pytest.raises(DocumentError, match="has 2 pages; there is no page 3"):
            renderer.render(path, 3, 1.0, None)
    finally:
        renderer.close()
