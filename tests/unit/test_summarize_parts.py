"""Splitting a long document into parts that fit: nothing dropped, every part in budget."""

from __future__ import annotations

from desktop_app.core.chat.summarize import span, split_units
from desktop_app.core.documents.model import Unit


def _words(text: str) -> int:
    return len(text.split())


def test_parts_keep_every_word_in_order_within_the_budget() -> None:
    units = [Unit("page", n, None, " ".join(f"w{n}-{i}" for i in range(size)))
             for n, size in enumerate([30, 50, 400, 10, 60], 1)]  # fmt: skip
    parts = split_units(units, _words, 100)
    flat = [u for part in parts for u in part]
    assert " ".join(u.text for u in flat).split() == " ".join(u.text for u in units).split()
    for part in parts:
        assert sum(_words(u.text) + 8 for u in part) <= 100 or len(part) == 1
    # The 400-word page became pieces that keep its page number, each fitting a part.
    pieces = [u for u in flat if u.number == 3]
    assert len(pieces) >= 5 and all(_words(u.text) + 8 <= 100 for u in pieces)
    assert span(parts[0]) == "pages 1-2" and span([units[3]]) == "page 4"


def test_sections_are_named_by_their_headings() -> None:
    units = [Unit("section", None, label, "text") for label in (None, "1 Scope", "2 Fees")]
    assert span(units) == "§ the start to § 2 Fees"
    assert span(units[1:2]) == "§ 1 Scope"
