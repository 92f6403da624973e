"""Pages that are pictures become text with word boxes: scanned PDF pages and image files.

Runs in the reader child only (isolated.py): PDFium draws the page and Tesseract reads it
(ocr.py), both on untrusted input. A PDF keeps its text pages as pypdf read them; a page
with no text layer, or one whose text layer is junk (text_quality.py: a copier's invisible
OCR, unmapped glyphs), is drawn at `OCR_DPI` and read again, page by page, with progress.
Each OCR'd unit keeps its words' boxes (fractions of the page as shown), so a quote found
in its text can be highlighted on the scan, and every such page is marked: the locator
(`[Page 3 · OCR]`), the warnings (which pages, the mean confidence, unsure words).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import replace

from desktop_app.core.documents import ocr_pool
from desktop_app.core.documents.model import Extracted, OcrLayer, Progress, Unit, page_ranges
from desktop_app.core.documents.text_quality import looks_like_junk
from desktop_app.errors import DocumentError, OcrUnavailable

#: Tesseract reads body text best at 300 dpi (its documentation; measured in
#: benchmarks/ocr.py): fewer dots lose accents and small print, more only cost time.
OCR_DPI = 300
#: A page drawn for OCR has at most this many pixels (an A4 page at 300 dpi has 8.7 M): a
#: poster-sized page is read at a lower resolution rather than exhausting the child.
MAX_OCR_PIXELS = 36_000_000
#: Frames of a multi-page TIFF read at most (a fax of a thousand pages is not a contract).
MAX_FRAMES = 2000
#: Unsure words listed in a warning, per document.
MAX_UNSURE_SHOWN = 12
#: More unsure words than this share suggests the wrong language was set (measured: a noisy
#: French 6-page scan read as English, 1.1% of its words; as French, 0%; English scans
#: read as English, 0-0.3%). The hint is worded as a condition, so a false one costs little.
UNSURE_HINT = 0.008
#: Names for the hint; codes as the settings store them.
LANGUAGE_NAMES = {"eng": "English", "fra": "French", "deu": "German", "spa": "Spanish",
                  "ita": "Italian", "nld": "Dutch"}  # fmt: skip
_PUNCTUATION = "\"'“”‘’„«»()[]{}.,;:!?"


def read_scans(
    data: bytes,
    extracted: Extracted,
    name: str,
    password: str | None,
    languages: str,
    progress: Progress | None,
) -> Extracted:
    """`extracted` (a PDF read by pypdf) with its scanned and junk pages read by OCR."""
    junk = {u.number for u in extracted.units if u.text and looks_like_junk(u.text)}
    wanted = sorted(set(extracted.scanned) | junk)
    if not wanted:
        return extracted
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data, password=password or None)
    except pdfium.PdfiumError:  # pypdf read the file; PDFium cannot draw it
        return _unread(extracted, wanted, "the pages could not be drawn for OCR")
    units = list(extracted.units)
    try:
        with ocr_pool.Readers(languages) as readers:
            pictures = (_draw(pdf, number) for number in wanted)
            pages = readers.read_all(pictures, len(wanted), progress)
            for number, page in zip(wanted, pages, strict=True):
                read = _unit(units[number - 1], page, languages, replaced=number in junk)
                if number not in junk or read.text.strip():
                    units[number - 1] = read  # a junk layer stays when the scan reads as nothing
    except OcrUnavailable as exc:
        return _unread(extracted, wanted, str(exc))
    finally:
        pdf.close()
    still_empty = [n for n in extracted.scanned if not units[n - 1].text.strip()]
    warnings = [*extracted.warnings, *_ocr_warnings(units, junk, still_empty, languages)]
    return replace(extracted, units=tuple(units), warnings=tuple(warnings), scanned=())


def read_image(data: bytes, name: str, languages: str, progress: Progress | None) -> Extracted:
    """An image file (PNG, JPEG, TIFF with one page a frame) as pages read by OCR."""
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_OCR_PIXELS  # Pillow refuses a decompression bomb itself
    try:
        with ocr_pool.Readers(languages) as readers, Image.open(io.BytesIO(data)) as picture:
            total = min(getattr(picture, "n_frames", 1), MAX_FRAMES)
            # A phone photo is shown upright by its EXIF tag: read (and box) it so.
            first = itertools.islice(ImageSequence.Iterator(picture), total)
            frames = (ImageOps.exif_transpose(f).convert("L") for f in first)
            pages = readers.read_all(frames, total, progress)
            units = [_unit(Unit("page", i + 1, None, ""), page, languages, replaced=False)
                     for i, page in enumerate(pages)]  # fmt: skip
    except OcrUnavailable as exc:
        raise OcrUnavailable(f"{name} is an image, and {exc}") from None
    except Image.DecompressionBombError:
        raise DocumentError(
            f"{name} is an image of more than {MAX_OCR_PIXELS // 1_000_000} million pixels; "
            "Folio reads pages up to that size."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError):
        raise DocumentError(f"{name} is a damaged image (or a kind Folio cannot read).") from None
    empty = [u.number for u in units if not u.text.strip() and u.number is not None]
    warnings = list(_ocr_warnings(units, set(), empty, languages))
    if total < getattr(picture, "n_frames", 1):
        warnings.append(f"only the first {MAX_FRAMES} pages of the image were read.")
    return Extracted(units=tuple(units), warnings=tuple(warnings))


def _draw(pdf, number: int):
    """Page `number` as a grayscale picture at OCR_DPI (less for a huge page), as it is
    shown: PDFium applies the page's own /Rotate, so boxes are fractions of the shown page.
    (On the calling thread only: PDFium is not thread-safe; the readers are.)"""
    page = pdf[number - 1]
    try:
        width, height = page.get_size()
        scale = min(OCR_DPI / 72, (MAX_OCR_PIXELS / max(width * height, 1.0)) ** 0.5)
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().convert("L")
        finally:
            bitmap.close()
    finally:
        page.close()


def _unit(unit: Unit, page, languages: str, *, replaced: bool) -> Unit:
    """`unit` with the text and words the engine read (`page`: an ocr.OcrPage)."""
    layer = OcrLayer(page.words, page.confidence, page.rotation, replaced, languages)
    return replace(unit, text=page.text, ocr=layer)


def _ocr_warnings(
    units: Sequence[Unit], junk: set, empty: Sequence[int], languages: str
) -> list[str]:
    read = [u for u in units if u.ocr is not None and u.text.strip()]
    out = []
    if read:
        numbers = [u.number for u in read if u.number is not None]
        mean = sum(u.ocr.confidence for u in read) / len(read)
        out.append(
            f"{_pages(numbers)} read by OCR (mean confidence {mean:.0f}%): figures there may "
            "be misread; check them on the page."
        )
    if replaced := sorted(u.number for u in read if u.ocr.replaced_text_layer):
        out.append(f"{_pages(replaced)}: the text layer was unreadable; read again by OCR.")
    unsure_by_page = [(u.number, u.ocr.unsure(u.text)) for u in read]
    first_seen: dict[str, int | None] = {}  # each unsure word once, with its first page
    for number, words in unsure_by_page:
        for word in words:
            first_seen.setdefault(word.strip(_PUNCTUATION) or word, number)
    if first_seen:
        unsure = [f"“{word}” (p. {page})" for word, page in first_seen.items()]
        extra = len(unsure) - MAX_UNSURE_SHOWN
        more = f" and {extra} more" if extra > 0 else ""
        out.append(f"words OCR is unsure of: {', '.join(unsure[:MAX_UNSURE_SHOWN])}{more}.")
    words = sum(len(u.ocr.words) for u in read)
    if words and sum(len(w) for _, w in unsure_by_page) > UNSURE_HINT * words:
        named = " + ".join(LANGUAGE_NAMES.get(c, c) for c in languages.split("+"))
        out.append(
            f"many words were hard to read in {named}: if the document is in another "
            "language, choose it in Settings → Documents and attach the file again."
        )
    if empty:
        one = len(empty) == 1
        out.append(
            f"{_pages(list(empty))} {'has' if one else 'have'} no text layer, and OCR found no "
            f"text on {'it' if one else 'them'} (blank, or a picture)."
        )
    return out


def _unread(extracted: Extracted, wanted: Sequence[int], why: str) -> Extracted:
    """Pages that OCR cannot read here: scans stay out of the model's view, junk layers stay
    as they are; both are said."""
    warnings = list(extracted.warnings)
    if scans := [n for n in wanted if n in extracted.scanned]:
        one = len(scans) == 1
        warnings.append(
            f"{_pages(scans)} {'is a scan' if one else 'are scans'} ({why}), so the model "
            f"cannot see {'it' if one else 'them'}."
        )
    if junk := [n for n in wanted if n not in extracted.scanned]:
        warnings.append(
            f"{_pages(junk)}: the text layer looks unreadable, and OCR cannot read "
            f"{'it' if len(junk) == 1 else 'them'} again ({why})."
        )
    return replace(extracted, warnings=tuple(warnings), scanned=())


def _pages(numbers: Sequence[int]) -> str:
    return f"page{'s' if len(numbers) > 1 else ''} {page_ranges(list(numbers))}"
