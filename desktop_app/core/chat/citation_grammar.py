"""The one grammar of a citation, parsed here and nowhere else.

The checker, the chat view's links and marks, the export's footnotes and the CLI all read an
answer's citations through `parse`, so a form the checker verifies is also one the window
links and marks. (They used to have a regex each: `[Page 12: 'ninety days']` was verified
and counted but neither linked nor marked in the window, and `[p. 12: "q"]` was linked
without its quote.)

A citation is bracketed: `[Page 12]`, `[Pages 3–5]`, `[p. 12]`, `[§ 4.2]`, optionally with a
quote after a colon in any of the quote marks models write ("…", “…”, „…“, «…», '…', ‘…’),
and a scanned page's mark as the documents show it (`[Page 3 · OCR: "…"]`). A locator in
prose (`p. 12`, `pp. 3–5`, `§ 4.2`) is a `Mention`: linked to its place, never checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_PAGE = r"(?:\d+|[ivxlcdm]+|[IVXLCDM]+)"
_OCR = r"(?:\s*·\s*OCR)?"
#: Opening quote mark → the marks that may close it (models mix “…" and '…’).
_QUOTES = "\"“”„«»'‘’‚"
_LOCATOR = (
    rf"(?:(?:[Pp]ages?|[Pp]p?\.)\s*(?P<page>{_PAGE})(?:\s*[-–]\s*(?P<page_end>{_PAGE}))?{_OCR}"
    r"|§\s*(?P<section>\d+(?:\.\d+)*))"
)
CITATION = re.compile(
    rf"\[\s*{_LOCATOR}\s*(?::\s*[{_QUOTES}](?P<quote>[^\]\n]*?)[{_QUOTES}])?\s*\](?!\()"
)
MENTION = re.compile(
    r"\bpp?\.\s?(?P<page>\d+|[ivxlcdm]+\b)(?:\s?[-–]\s?(?:\d+|[ivxlcdm]+\b))?"
    r"|§§?\s?(?P<section>\d+(?:\.\d+)*)(?:\s?[-–]\s?\d+(?:\.\d+)*)?"
)

Kind = Literal["page", "section"]


@dataclass(frozen=True)
class Citation:
    start: int
    end: int
    kind: Kind
    #: The page label or number (the first of a range), or the section number, as written.
    ref: str
    quote: str | None
    #: Exactly as the answer wrote it: the key its check is kept under.
    text: str

    def label(self) -> str:
        """How the chat shows it: the locator without the quote (the link carries it)."""
        return f"Page {self.ref}" if self.kind == "page" else f"§ {self.ref}"


@dataclass(frozen=True)
class Mention:
    """A locator in prose, linked to its place but not checked (it quotes nothing)."""

    start: int
    end: int
    kind: Kind
    ref: str
    text: str


def parse(answer: str) -> list[Citation]:
    """Every citation in `answer`, in order."""
    return [
        Citation(
            m.start(),
            m.end(),
            "page" if m["page"] else "section",
            m["page"] or m["section"],
            m["quote"] or None,
            m.group(),
        )  # fmt: skip
        for m in CITATION.finditer(answer)
    ]


def mentions(prose: str) -> list[Mention]:
    """Every prose locator in `prose` that is not inside a citation."""
    taken = [(c.start, c.end) for c in parse(prose)]
    return [
        Mention(
            m.start(),
            m.end(),
            "page" if m["page"] else "section",
            m["page"] or m["section"],
            m.group(),
        )  # fmt: skip
        for m in MENTION.finditer(prose)
        if not any(s <= m.start() < e for s, e in taken)
    ]


def strip(text: str) -> str:
    """`text` without its citations (what a citation's claim reads as)."""
    return CITATION.sub(" ", text)
