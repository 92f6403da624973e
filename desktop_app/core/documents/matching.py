"""Find a quoted passage in a document's text, the way a reader would.

A model quotes what it read, and what it read went through extraction: case, curly quotes,
ligatures ("ﬁ"), line-end hyphenation ("ad-\\nvance") and runs of whitespace vary between
the quote, the extracted text and the PDF's own text layer. Both sides are normalised
before comparing, and a quote with a few OCR-like differences still counts when it is close
enough. The citation check (core/chat/citations.py) asks *whether* a quote is on a page;
the source view asks *where*, to highlight it: `normalize_mapped` keeps, for every
normalised character, the index of the character it came from.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

#: How alike a quote and the closest stretch of a page must be to count as found.
FUZZY_RATIO = 0.88
#: Quotes shorter than this (after normalising) are too weak to search fuzzily.
MIN_FUZZY_CHARS = 12

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "\u00ad": None})
_HYPHEN_BREAK = re.compile(r"(\w)-\s*\n\s*(\w)")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Casefold, NFKC (ligatures), straight quotes, no line-end hyphens, one space."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_QUOTES)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    return _SPACES.sub(" ", text).strip().casefold()


def normalize_mapped(text: str) -> tuple[str, list[int]]:
    """`normalize(text)` and, for each of its characters, the index in `text` it came from.

    Character by character (so slower than `normalize`: for one page, not a whole book).
    A base character and the combining marks after it are normalised together, as NFKC
    composes them.
    """
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j]).translate(_QUOTES)
        for ch in piece:
            out.append(ch)
            where.append(i)
        i = j
    chars, index = _drop_hyphen_breaks(out, where)
    # One space for each run of whitespace, none at either end; then casefold, which can
    # lengthen a character ("ß" → "ss"): every output character keeps its source.
    result: list[str] = []
    mapped: list[int] = []
    pending_space = -1
    for ch, src in zip(chars, index, strict=True):
        if ch.isspace():
            if result and pending_space < 0:
                pending_space = src
            continue
        if pending_space >= 0:
            result.append(" ")
            mapped.append(pending_space)
            pending_space = -1
        for folded in ch.casefold():
            result.append(folded)
            mapped.append(src)
    return "".join(result), mapped


def _drop_hyphen_breaks(chars: list[str], index: list[int]) -> tuple[list[str], list[int]]:
    """Remove "-" + whitespace-with-a-newline between two word characters (as `normalize`)."""
    joined = "".join(chars)
    keep = [True] * len(chars)
    for m in _HYPHEN_BREAK.finditer(joined):
        for k in range(m.start() + 1, m.end() - 1):
            keep[k] = False
    return [c for c, k in zip(chars, keep, strict=True) if k], [
        i for i, k in zip(index, keep, strict=True) if k
    ]


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """Where normalised `quote` is in normalised `text`: exactly, else the stretch of `text`
    that differs from it only by a few OCR-like slips; None if neither."""
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    return _fuzzy(text, quote)


def _fuzzy(text: str, quote: str) -> tuple[int, int] | None:
    if len(quote) < MIN_FUZZY_CHARS:
        return None
    # Compare the quote with the stretch of the text, as long as the quote, aligned on
    # their longest common run.
    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    block = matcher.find_longest_match(0, len(text), 0, len(quote))
    if block.size < len(quote) // 4:
        return None
    begin = max(0, block.a - block.b)
    window = text[begin : begin + len(quote)]
    if difflib.SequenceMatcher(None, window, quote).ratio() < FUZZY_RATIO:
        return None
    # Where it is: from the first to the last character that matches, in a slightly wider
    # stretch (a character the text has more or less than the quote shifts the ends).
    slack = 2 + len(quote) // 10
    wide_begin = max(0, begin - slack)
    wide = text[wide_begin : begin + len(quote) + slack]
    blocks = [b for b in difflib.SequenceMatcher(None, wide, quote).get_matching_blocks() if b.size]
    return wide_begin + blocks[0].a, wide_begin + blocks[-1].a + blocks[-1].size
