"""What a loaded document is: units with locators, the text the model sees, warnings.

Units are the places a reader can point to: PDF pages (physical number and
the label printed on the page, e.g. "iv" or "A-3") and, for formats without
fixed pages (DOCX, text), sections under their headings. The model text puts
a locator before every unit, `[Page 17]` or `§ 12.3 Payment`, so an answer
can cite where it comes from and the UI can turn the citation into a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

UnitKind = Literal["page", "section"]

#: Bump when any extractor's output changes: cached extractions of an older
#: version are ignored and redone.
EXTRACTOR_VERSION = 1


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    #: PDF: the 1-based physical page number. Sections: None.
    number: int | None
    #: PDF: the page label when the file defines one. Sections: the heading as the
    #: reader sees it, numbering included ("12.3 Payment"); None before the first heading.
    label: str | None
    text: str

    def locator(self) -> str:
        if self.kind == "page":
            return f"[Page {self.label or self.number}]"
        return f"§ {self.label}" if self.label else ""

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "number": self.number, "label": self.label, "text": self.text}


@dataclass(frozen=True)
class Extracted:
    """What a format's extractor returns; `load` adds identity and caching."""

    units: tuple[Unit, ...]
    title: str | None = None
    warnings: tuple[str, ...] = ()
    #: False for encrypted files, whose plain text must not be cached on disk.
    cacheable: bool = True


@dataclass(frozen=True)
class Document:
    path: Path
    sha256: str
    title: str
    #: "pdf", "docx", or a text kind: "text", "markdown", "html", "csv", "code".
    type: str
    units: tuple[Unit, ...]
    warnings: tuple[str, ...] = field(default=())

    def model_text(self) -> str:
        """Exactly what the model sees: every unit behind its locator."""
        parts = []
        for unit in self.units:
            locator = unit.locator()
            body = unit.text.strip()
            if not body and unit.kind == "page":
                body = "(no text on this page)"
            parts.append("\n".join(p for p in (locator, body) if p))
        return "\n\n".join(p for p in parts if p.strip())

    def for_path(self, path: Path) -> Document:
        """The same content seen at another path (a cached copy, a moved file)."""
        return replace(self, path=path)

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
