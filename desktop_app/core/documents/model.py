"""What a loaded document is: units with locators, the text the model sees, warnings.

Units are the places a reader can point to: PDF pages (physical number and
the label printed on the page, e.g. "iv" or "A-3") and, for formats without
fixed pages (DOCX, text), sections under their headings. The model text puts
a locator before every unit, `[Page 17]` or `§ 12.3 Payment`, so an answer
can cite where it comes from and the UI can turn the citation into a link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

UnitKind = Literal["page", "section"]

#: Bump when any extractor's output changes: cached extractions of an older
#: version are ignored and redone. 2: scanned pages are read by OCR (`Unit.ocr`).
EXTRACTOR_VERSION = 2

#: progress(done, total, stage): pages (PDF, image) or parts read so far, in stage "text"
#: (parsed) or "ocr" (read by OCR). The one signature every reader and the child report by.
Progress = Callable[[int, int, str], None]

#: What a page read by OCR carries in its locator, for the model and for a reader.
OCR_MARK = " · OCR"

#: A word's box: (left, top, right, bottom) as fractions of the page as it is shown
#: (rotation applied), so any rendering of the page, at any scale, can place it.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrWord:
    #: [start, end) of the word in its unit's text.
    start: int
    end: int
    box: Box
    #: The engine's confidence, 0-100.
    confidence: float


@dataclass(frozen=True)
class OcrLayer:
    """How a unit's text was read from a picture of the page, word by word.

    Kept beside the text so that a quote found in the text can be highlighted on the
    scan (the words it spans) and so that unsure words can be reported, not hidden."""

    words: tuple[OcrWord, ...]
    #: Mean word confidence, 0-100.
    confidence: float
    #: Clockwise degrees the scan was turned to be read upright (0, 90, 180, 270).
    rotation: int = 0
    #: True when the page had a text layer that was unusable (junk) and was read again.
    replaced_text_layer: bool = False
    #: The languages it was read in ("eng+fra"): a document dropped again after the user
    #: changed them is read again.
    languages: str = ""

    #: Words below this confidence are reported as unsure.
    UNSURE_BELOW = 60.0

    def unsure(self, text: str) -> list[str]:
        return [text[w.start : w.end] for w in self.words if w.confidence < self.UNSURE_BELOW]

    def as_dict(self) -> dict[str, object]:
        return {
            "words": [[w.start, w.end, *w.box, w.confidence] for w in self.words],
            "confidence": self.confidence,
            "rotation": self.rotation,
            "replaced_text_layer": self.replaced_text_layer,
            "languages": self.languages,
        }


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    #: PDF: the 1-based physical page number. Sections: None.
    number: int | None
    #: PDF: the page label when the file defines one. Sections: the heading as the
    #: reader sees it, numbering included ("12.3 Payment"); None before the first heading.
    label: str | None
    text: str
    #: For a page read from a picture (a scan, an image file): the words and their boxes.
    ocr: OcrLayer | None = None

    def locator(self) -> str:
        if self.kind == "page":
            return f"[Page {self.label or self.number}]"
        return f"§ {self.label}" if self.label else ""

    def heading(self) -> str:
        """The locator as the model and a reader see it: a page read by OCR says so
        (`[Page 3 · OCR]`), so an answer can warn that a figure there may be misread."""
        locator = self.locator()
        return f"{locator[:-1]}{OCR_MARK}]" if self.ocr is not None and locator else locator

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "number": self.number, "label": self.label, "text": self.text,
                "ocr": None if self.ocr is None else self.ocr.as_dict()}  # fmt: skip


@dataclass(frozen=True)
class Extracted:
    """What a format's extractor returns; `load` adds identity and caching."""

    units: tuple[Unit, ...]
    title: str | None = None
    warnings: tuple[str, ...] = ()
    #: False for encrypted files, whose plain text must not be cached on disk.
    cacheable: bool = True
    #: "pdf", "docx", "image" or a text kind (set by `documents.parse`).
    type: str = ""
    #: PDF: the physical numbers of pages without a text layer (scans, until OCR reads them).
    scanned: tuple[int, ...] = ()


@dataclass(frozen=True)
class Document:
    path: Path
    sha256: str
    title: str
    #: "pdf", "docx", "image", or a text kind: "text", "markdown", "html", "csv", "code".
    type: str
    units: tuple[Unit, ...]
    warnings: tuple[str, ...] = field(default=())

    def model_text(self) -> str:
        """Exactly what the model sees: every unit behind its locator."""
        parts = []
        for unit in self.units:
            locator = unit.heading()
            body = unit.text.strip()
            if not body and unit.kind == "page":
                body = "(no text on this page)"
            parts.append("\n".join(p for p in (locator, body) if p))
        return "\n\n".join(p for p in parts if p.strip())

    def for_path(self, path: Path) -> Document:
        """The same content seen at another path (a cached copy, a moved file)."""
        return replace(self, path=path)

    def ocr_pages(self) -> list[int]:
        """The numbers of the pages read by OCR."""
        return [u.number for u in self.units if u.ocr is not None and u.number is not None]

    @property
    def pages(self) -> int | None:
        """Number of pages, for formats that have them."""
        return sum(1 for u in self.units if u.kind == "page") or None


def page_ranges(numbers: list[int]) -> str:
    """[2, 5, 6, 7] -> "2, 5–7": how warnings list pages to a reader."""
    out: list[str] = []
    start = prev = None
    for n in sorted(set(numbers)):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}–{prev}")
        start = prev = n
    if start is not None:
        out.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(out)
