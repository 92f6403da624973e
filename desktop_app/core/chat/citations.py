"""Check an answer's citations against the documents' extracted text.

A model that cites "page 12" can be wrong about the page, or quote words the document
never says. Citations carry a short exact quote, `[Page 12: "ninety (90) days' notice"]`
or `[§ 4.2: "…"]` (plain `[Page 12]` still works), and each is looked up in the text the
model was given: the quote on the cited unit → verified; on another unit → "on page 14,
not 12"; nowhere → not found. Text is compared after normalising what extraction and
models vary on (case, whitespace, ligatures, curly quotes, line-end hyphenation), and a
quote with a few OCR-like differences still counts when it is close enough.

Qt-free: the chat view, the CLI and the export all use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import asdict, dataclass, replace
from typing import Literal

from desktop_app.core.chat.citation_grammar import Citation, parse, strip
from desktop_app.core.chat.retrieval import best_sentence
from desktop_app.core.documents.matching import locate, normalize
from desktop_app.core.documents.model import Document, Unit
from desktop_app.core.documents.places import matches

Status = Literal["verified", "elsewhere", "not_found", "unquoted"]


@dataclass(frozen=True)
class Checked:
    citation: Citation
    status: Status
    #: Where the quote was found (the cited unit when verified); None if nowhere.
    document: str | None = None
    unit: Unit | None = None
    #: For a citation without a quote: the unit's sentence that best matches the claim it
    #: supports, which the source view highlights instead.
    passage: str | None = None
    #: Retrieval mode: the unit it points to was not among the passages the model was given
    #: (so the model cannot have read it there, whatever the page says).
    unsent: bool = False

    def describe(self) -> str:
        """A short phrase for a tooltip or the export."""
        if self.unsent and self.unit is not None:
            return f"{_name(self.unit)} was not among the passages the model was given"
        if self.status == "verified":
            return "quote found on the cited " + _unit_name(self.citation.kind)
        if self.status == "elsewhere" and self.unit is not None:
            return f"quote found {_where(self.unit)}, not {_cited(self.citation)}"
        if self.status == "not_found":
            if self.citation.quote is None:
                return f"{_cited(self.citation)} is not in the documents"
            return "quote not found in the documents"
        return "no quote to check"


def check(
    answer: str, documents: Sequence[Document], sent: Set[tuple[str, str]] | None = None
) -> list[Checked]:
    """Every citation in `answer`, checked against `documents`' units; `sent`: in retrieval
    mode, the (document name, unit locator) of every passage the model was given."""
    return Checker(documents).check(answer, sent)


class Checker:
    """The documents' units normalised once (a 300-page document takes tens of ms), so that
    an answer's citations can be checked again each time one completes while it streams."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = documents
        self._units = [(d.path.name, u, normalize(u.text)) for d in documents for u in d.units]

    def check(self, answer: str, sent: Set[tuple[str, str]] | None = None) -> list[Checked]:
        found = parse(answer)
        checked = [_check(c, self._units) for c in found]
        if sent is not None:
            checked = [replace(c, unsent=(c.document, c.unit.locator()) not in sent)
                       if c.unit is not None else c for c in checked]  # fmt: skip
        return _with_passages(answer, found, checked)


def _with_passages(answer: str, found: list[Citation], checked: list[Checked]) -> list[Checked]:
    """Quote-less citations get the sentence of their unit that best matches their claim."""
    return [
        replace(c, passage=best_sentence(c.unit.text, claim(answer, found, i)))
        if c.status == "unquoted" and c.unit is not None
        else c
        for i, c in enumerate(checked)
    ]


def claim(answer: str, found: Sequence[Citation], index: int) -> str:
    """The words a citation supports: back from it to the sentence's start (or the citation
    before it, in a sentence that cites several), without other citations' brackets."""
    citation = found[index]
    floor = found[index - 1].end if index else 0
    before = answer[floor : citation.start]
    cut = max(before.rfind(". "), before.rfind("\n"), before.rfind("? "), before.rfind("! "))
    return strip(before[cut + 1 :]).strip(" ,;:-")


def summary(checked: Sequence[Checked]) -> str:
    """The line under an answer: "3 citations, all found in the document" etc."""
    quoted = [c for c in checked if c.citation.quote is not None]
    if not checked:
        return ""
    total = len(checked)
    noun = "citation" if total == 1 else "citations"
    missing = sum(c.status == "not_found" for c in checked)
    moved = sum(c.status == "elsewhere" for c in checked)
    if unsent := sum(c.unsent for c in checked):
        return f"{unsent} of {total} {noun} not among the passages the model was given"
    if missing:
        return f"{missing} of {total} {noun} not found in the documents"
    if moved:
        return f"{moved} of {total} {noun} found on another page or section"
    if len(quoted) < total:
        kinds = frozenset(c.citation.kind for c in checked)
        places = _PLACES.get(kinds, "pages and sections")
        return f"{total} {noun}; the {places} exist, {total - len(quoted)} without a quote to check"
    return f"{total} {noun}, all found in the document"


_PLACES = {frozenset({"page"}): "pages", frozenset({"section"}): "sections"}


@dataclass(frozen=True)
class Mark:
    """A checked citation as kept with its answer (the stats' JSON, in SQLite) and shown by
    every view: the window's link and mark, the export's footnote. Read back only through
    `marks_of`, which checks each field (a history may be older, or damaged)."""

    #: The citation exactly as the answer wrote it: the key a view finds it by.
    text: str
    status: Status
    #: The locator its link opens: where the quote was found, else the one cited.
    target: str
    note: str = ""
    document: str | None = None
    passage: str | None = None
    unsent: bool = False
    ocr: bool = False


def marks_of(stats: Mapping[str, object] | None) -> dict[str, Mark]:
    """The marks kept in an answer's stats, by citation text; a malformed entry is skipped."""
    found = (stats or {}).get("citations")
    checks = found.get("checks") if isinstance(found, Mapping) else None
    marks = (_mark_of(raw) for raw in (checks if isinstance(checks, list) else ()))
    return {mark.text: mark for mark in marks if mark is not None}


def _mark_of(raw: object) -> Mark | None:
    if not (isinstance(raw, Mapping) and isinstance(raw.get("text"), str)):
        return None
    if raw.get("status") not in Status.__args__:
        return None

    def text(key: str) -> str | None:
        return value if isinstance(value := raw.get(key), str) else None

    return Mark(raw["text"], raw["status"], text("target") or "", text("note") or "",
                text("document"), text("passage"), raw.get("unsent") is True,
                raw.get("ocr") is True)  # fmt: skip


def counts(answer: str, checked: Sequence[Checked]) -> dict[str, object]:
    """What is kept with the answer (its stats) and printed by `folio ask --stats`: counts
    per status, the summary line, and each citation's `Mark`."""
    by_status = {s: sum(c.status == s for c in checked) for s in Status.__args__}
    marks = [asdict(Mark(c.citation.text, c.status, _target(c), c.describe(), c.document,
                         c.passage, c.unsent, c.unit is not None and c.unit.ocr is not None))
             for c in checked]  # fmt: skip
    return {"total": len(checked), **by_status, "unsent": sum(c.unsent for c in checked),
            "summary": summary(checked), "checks": marks}  # fmt: skip


def _target(checked: Checked) -> str:
    """The locator the link opens: where the quote was found, else the one cited."""
    unit = checked.unit
    if unit is None:
        return checked.citation.ref
    if unit.kind == "page":
        return unit.label or str(unit.number)
    return (unit.label or "").split()[0].rstrip(".") or checked.citation.ref


def _check(citation: Citation, units: list[tuple[str, Unit, str]]) -> Checked:
    cited = [(name, u, text) for name, u, text in units if _matches(citation, u)]
    quote = normalize(citation.quote or "")
    if not quote:  # no quote (or a blank one): the page or section must exist
        if not cited:
            return Checked(citation, "not_found")
        name, unit, _ = cited[0]
        return Checked(citation, "unquoted", name, unit)
    for name, unit, text in cited:
        if _close(text, quote):
            return Checked(citation, "verified", name, unit)
    # Elsewhere: exactly anywhere, or closely on a neighbouring page. A fuzzy search of
    # every page would take seconds on a long document, for every quote not found.
    for name, unit, text in units:
        if quote in text:
            return Checked(citation, "elsewhere", name, unit)
    cited_ids = {id(u) for _, u, _ in cited}
    for i, (name, unit, text) in enumerate(units):
        near = any(id(units[j][1]) in cited_ids for j in (i - 1, i + 1) if 0 <= j < len(units))
        if near and id(unit) not in cited_ids and _close(text, quote):
            return Checked(citation, "elsewhere", name, unit)
    return Checked(citation, "not_found")


def _matches(citation: Citation, unit: Unit) -> bool:
    return (citation.kind == "page") == (unit.kind == "page") and matches(unit, citation.ref)


def _close(text: str, quote: str) -> bool:
    """The quote is in `text` with a few OCR-like differences."""
    return locate(text, quote) is not None


def _unit_name(kind: str) -> str:
    return "page" if kind == "page" else "section"


def _name(unit: Unit) -> str:
    return f"page {unit.label or unit.number}" if unit.kind == "page" else f"§ {unit.label}"


def _where(unit: Unit) -> str:
    return f"{'on' if unit.kind == 'page' else 'in'} {_name(unit)}"


def _cited(citation: Citation) -> str:
    return f"page {citation.ref}" if citation.kind == "page" else f"§ {citation.ref}"
