"""One PDF page as pixels, with boxes around a quote: what the source view shows.

PDFium (through pypdfium2, the engine Chrome renders PDFs with) draws the page and reads its
text layer, whose characters carry boxes. A quote is found in that layer the way the
citation check finds it in the extracted text (core/documents/matching.py: case, ligatures,
hyphenation, OCR-like slips), and the boxes of its characters become the highlight, in the
bitmap's own pixel coordinates (PDFium maps page space to the bitmap, rotation and crop box
included). An image-only (scanned) page has no text layer: it renders, with nothing to
highlight, and says so.

This module runs in the render child (core/documents/render_service.py), never in the app:
PDFium parses untrusted files.
"""

from __future__ import annotations

import ctypes
import io
import time
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from desktop_app.core.documents.places import quote_span
from desktop_app.core.documents.rendered_page import MAX_PIXELS, Box, RenderedPage
from desktop_app.core.documents.sniff import is_image
from desktop_app.errors import DocumentError, PasswordRequired, printable


class ImagePages:
    """An image file (PNG, JPEG, a multi-page TIFF) as pages, to draw like a PDF's: one page a
    frame, at 72 dpi "points" when the file says no resolution, so zoom behaves the same."""

    def __init__(self, path: Path) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses a decompression bomb itself
        self._image = Image.open(path)
        self._frames = getattr(self._image, "n_frames", 1)

    def __len__(self) -> int:
        return self._frames

    def draw(self, index: int, scale: float, fit_width: int) -> RenderedPage:
        from PIL import Image, ImageOps

        start = time.perf_counter()
        self._image.seek(index)
        # Upright as the EXIF tag says (a phone photo), as OCR read it: the boxes match.
        frame = ImageOps.exif_transpose(self._image).convert("RGB")
        dpi = _dpi(self._image.info.get("dpi"))
        width_pt, height_pt = frame.width * 72 / dpi, frame.height * 72 / dpi
        scale = fit_width / max(width_pt, 1.0) if fit_width > 0 else scale
        scale = min(scale, 0.995 * (MAX_PIXELS / max(width_pt * height_pt, 1.0)) ** 0.5)
        size = (max(1, round(width_pt * scale)), max(1, round(height_pt * scale)))
        pixels = frame.resize(size, Image.Resampling.LANCZOS).convert("RGBA").tobytes("raw", "BGRA")
        elapsed = (time.perf_counter() - start) * 1000
        return RenderedPage(pixels, size[0], size[1], 4 * size[0], scale, self._frames, (),
                            False, elapsed)  # fmt: skip

    def close(self) -> None:
        self._image.close()


def _dpi(untrusted: object) -> float:
    """The image's horizontal resolution as a float (a TIFF gives a rational), or 72 when
    it says none or nonsense (0, NaN, 1e300, not a number): zoom then behaves as for a PDF."""
    try:
        dpi = float(untrusted[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError, KeyError):
        return 72.0
    return dpi if 1.0 <= dpi <= 10_000.0 else 72.0


def open_document(path: Path, password: str | None) -> pdfium.PdfDocument | ImagePages:
    """A PDF (PDFium) or an image file (Pillow), decided by the bytes, not the name."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head and is_image(head):
        try:
            return ImagePages(path)
        except (OSError, ValueError) as exc:
            raise DocumentError(f"{printable(path.name)} cannot be shown: {exc}") from None
    return open_pdf(path, password)


def open_pdf(path: Path, password: str | None) -> pdfium.PdfDocument:
    name = printable(path.name)
    try:
        return pdfium.PdfDocument(str(path), password=password or None)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            return pdfium.PdfDocument(_decrypted(path, name, password))
        raise DocumentError(f"{name} cannot be shown: {exc}") from None
    except OSError as exc:
        raise DocumentError(f"{name} cannot be read: {exc.strerror or exc}") from None


def _decrypted(path: Path, name: str, password: str | None) -> bytes:
    """The PDF decrypted by pypdf into memory, for the encrypted files PDFium refuses
    although their password is known or empty ("r6-password" files: an empty user password
    and an owner password). PDFium also checks /Perms, the permissions sealed with the key,
    which some writers get wrong or leave stale after changing /P; the text extraction
    (pypdf, pdf.py) does not, so the text opened without a prompt but the page would not
    draw. Decrypted with the same passwords the extraction tries; raises `PasswordRequired`
    when neither opens it. The plain copy stays in this child's memory, never on disk."""
    from pypdf import PdfWriter

    from desktop_app.core.documents import pdf

    try:
        reader, _ = pdf._open(path.read_bytes(), name)
        pdf._decrypt(reader, name, password)
        plain = io.BytesIO()
        PdfWriter(clone_from=reader).write(plain)
    except PasswordRequired as exc:
        raise PasswordRequired(
            f"{name} is encrypted: its password is needed to show it.",
            wrong_password=exc.wrong_password,
        ) from None
    except DocumentError:
        raise
    except Exception as exc:  # pypdf on a hostile file: any error, in this child only
        raise DocumentError(f"{name} cannot be shown: {exc}") from None
    return plain.getvalue()


def render(
    doc: pdfium.PdfDocument | ImagePages,
    index: int,
    scale: float,
    quote: str | None,
    fit_width: int = 0,
) -> RenderedPage:
    """Page `index` (0-based) at `scale` pixels per point, or `fit_width` pixels wide when
    given (the view fits the width before it knows the page's size), with the quote's boxes."""
    start = time.perf_counter()
    count = len(doc)
    if not 0 <= index < count:
        noun = "page" if count == 1 else "pages"
        raise DocumentError(f"The document has {count} {noun}; there is no page {index + 1}.")
    if isinstance(doc, ImagePages):
        return doc.draw(index, scale, fit_width)
    page = doc[index]
    try:
        width_pt, height_pt = page.get_size()
        scale = fit_width / max(width_pt, 1.0) if fit_width > 0 else scale
        # (a little under the cap: the bitmap's sides are rounded up to whole pixels)
        scale = min(scale, 0.995 * (MAX_PIXELS / max(width_pt * height_pt, 1.0)) ** 0.5)
        bitmap = page.render(scale=scale, prefer_bgrx=True, may_draw_forms=True)
        width, height = bitmap.width, bitmap.height
        textpage = page.get_textpage()
        try:
            chars = textpage.count_chars()
            boxes = _quote_boxes(page, textpage, quote, width, height) if quote else ()
        finally:
            textpage.close()
        pixels = bytes(bitmap.buffer)
        stride = bitmap.stride
        bitmap.close()
    finally:
        page.close()
    return RenderedPage(
        pixels, width, height, stride, scale, count, boxes, chars > 0,
        (time.perf_counter() - start) * 1000,
    )  # fmt: skip


def page_chars(textpage: pdfium.PdfTextPage) -> str:
    """The text layer, one character per PDFium character index (generated spaces and line
    breaks included), so a position in it is a character index PDFium knows."""
    raw = textpage.raw
    chars = (chr(pdfium_c.FPDFText_GetUnicode(raw, i) or 32) for i in range(textpage.count_chars()))
    return "".join(chars).translate(_PDFIUM_MARKS)


#: PDFium writes a word hyphenated at a line's end as "ad\x02vance": a soft hyphen, which
#: the normalisation drops, so the quote "advance" is found there.
_PDFIUM_MARKS = {0x02: "\u00ad"}


def _quote_boxes(
    page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, quote: str, width: int, height: int
) -> tuple[Box, ...]:
    span = quote_span(page_chars(textpage), quote)
    if span is None:
        return ()
    first, last = span[0], span[1] - 1
    boxes = []
    for i in range(textpage.count_rects(first, last - first + 1)):
        left, bottom, right, top = textpage.get_rect(i)
        x0, y0 = _to_device(page, width, height, left, top)
        x1, y1 = _to_device(page, width, height, right, bottom)
        boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return tuple(boxes)


def _to_device(page: pdfium.PdfPage, width: int, height: int, x: float, y: float) -> tuple:
    dx, dy = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, x, y, dx, dy)
    return float(dx.value), float(dy.value)
