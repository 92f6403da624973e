"""Where a citation points: the document, the unit (page or section), the quote's span.

The source view asks this for every click, so it works from the extraction cache (`load`)
and never guesses: a locator that is not in the documents is None, and the view says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.documents.matching import locate, normalize, normalize_mapped
from desktop_app.core.documents.model import Document, Unit
from desktop_app.errors import FolioError, PasswordRequired


@dataclass(frozen=True)
class Place:
    #: The path as the conversation attached it (the document may have been read from a copy).
    path: str
    document: Document
    #: The unit's index in `document.units` (for a PDF: the page number - 1).
    index: int

    @property
    def unit(self) -> Unit:
        return self.document.units[self.index]

    @property
    def is_paged(self) -> bool:
        """Shown as a drawn page (a PDF, an image), not as text."""
        return self.document.type in ("pdf", "image")


def matches(unit: Unit, locator: str) -> bool:
    """`locator` ("12", "iv", "4.2") names this unit: its page number or label, or its
    section number; `§ 4` also names a section 4.1 (a chapter cited by its number)."""
    wanted = locator.strip().lower()
    label = (unit.label or "").lower()
    if unit.kind == "page":
        return wanted in (str(unit.number), label)
    number = label.split()[0].rstrip(".") if label else ""
    return bool(number) and (number == wanted or number.startswith(wanted + "."))


def find_place(
    paths: Sequence[str], locator: str, document: str | None, load: Callable[[str], Document]
) -> Place | None:
    """The unit `locator` names, in the document called `document` when given (a citation
    checked against the text knows it), else in the first document that has one.
    `PasswordRequired` for an encrypted document whose password this run does not know."""
    ordered = sorted(paths, key=lambda p: Path(p).name != document) if document else paths
    for path in ordered:
        try:
            doc = load(path)
        except PasswordRequired:
            raise
        except FolioError:
            continue
        for i, unit in enumerate(doc.units):
            if matches(unit, locator):
                return Place(path, doc, i)
    return None


def quote_span(text: str, quote: str | None) -> tuple[int, int] | None:
    """[start, end) of `quote` in `text` (as a reader would find it; see matching.py)."""
    if not quote:
        return None
    normalized, where = normalize_mapped(text)
    span = locate(normalized, normalize(quote))
    if span is None:
        return None
    return where[span[0]], where[span[1] - 1] + 1


def ocr_boxes(
    unit: Unit, quote: str | None, width: int, height: int
) -> tuple[tuple[float, float, float, float], ...]:
    """Boxes, in pixels of a `width` x `height` drawing of the page, around the OCR'd words
    that `quote` spans in `unit`'s text (found as any citation's quote is): one box a line,
    as a text page's highlight is, not one a word."""
    span = quote_span(unit.text, quote) if unit.ocr is not None else None
    if span is None:
        return ()
    start, end = span
    lines: list[list[float]] = []
    for word in unit.ocr.words:
        if not (word.start < end and word.end > start):
            continue
        left, top, right, bottom = word.box
        last = lines[-1] if lines else None
        # The same line: the next word to the right, overlapping the line's height by half.
        overlap = 0.0 if last is None else min(bottom, last[3]) - max(top, last[1])
        if last is not None and left >= last[0] and overlap > 0.5 * (bottom - top):
            last[1:] = [min(top, last[1]), max(right, last[2]), max(bottom, last[3])]
        else:
            lines.append([left, top, right, bottom])
    return tuple((x0 * width, y0 * height, x1 * width, y1 * height) for x0, y0, x1, y1 in lines)
