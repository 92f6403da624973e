"""Every citation form the grammar accepts is checked by the core and linked and marked by the
window alike: one parser (core/chat/citation_grammar.py), so they cannot disagree."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

import pytest

from desktop_app.core.chat.citations import check, counts, marks_of
from desktop_app.ui.chat_markdown import link_citations
from tests.unit.test_citations import _lease, _spec

RENT = "1,200 euros per month"
#: (how the model wrote it, the locator the window shows)
FORMS = [
    (f'[Page 2: "{RENT}"]', "Page 2"),
    (f"[Page 2: “{RENT}”]", "Page 2"),
    (f"[Page 2: „{RENT}“]", "Page 2"),
    (f"[Page 2: «{RENT}»]", "Page 2"),
    (f"[Page 2: '{RENT}']", "Page 2"),
    (f"[Page 2: ‘{RENT}’]", "Page 2"),
    (f'[p. 2: "{RENT}"]', "Page 2"),
    (f'[Pages 2–3: "{RENT}"]', "Page 2"),
    (f'[Page 2 · OCR: "{RENT}"]', "Page 2"),
    ('[§ 4.2: "A penalty of 2% per week applies"]', "§ 4.2"),
]
LINK = re.compile(r"\[\\\[(?P<label>[^\]]*)\\\]\]\(cite:(?P<target>[^?)]*)\?(?P<query>[^)]*)\)")


def _window(answer: str) -> list[tuple[str, str, dict[str, str], str]]:
    """What the window makes of the answer: each link's label, target, fields and mark."""
    checked = check(answer, [_lease(), _spec()])
    linked = link_citations(answer, marks_of({"citations": counts(answer, checked)}))
    return [
        (m["label"], unquote(m["target"]),
         {k: v[0] for k, v in parse_qs(m["query"]).items()},
         linked[m.end() : m.end() + 2])
        for m in LINK.finditer(linked)
    ]  # fmt: skip


@pytest.mark.parametrize(("form", "label"), FORMS)
def test_each_form_is_verified_by_the_core_and_linked_with_its_quote_and_mark(
    form: str, label: str
) -> None:
    answer = f"The figure is stated {form}."
    [checked] = check(answer, [_lease(), _spec()])
    quote = RENT if label == "Page 2" else "A penalty of 2% per week applies"
    assert (checked.status, checked.citation.quote) == ("verified", quote)
    [(shown, target, fields, mark)] = _window(answer)
    assert (shown, target, mark) == (label, label.split()[-1], " ✓")
    assert (fields["q"], fields["s"]) == (quote, "verified")


def test_a_quote_on_another_page_links_to_where_it_is_with_the_same_note() -> None:
    answer = f"Rent [Page 1: '{RENT}']."
    [checked] = check(answer, [_lease()])
    [(shown, target, fields, _mark)] = _window(answer)
    assert (checked.status, shown, target) == ("elsewhere", "Page 1", "2")
    assert fields["n"] == checked.describe() == "quote found on page 2, not page 1"
    assert "*(quote found on page 2, not page 1)*" in link_citations(
        answer, marks_of({"citations": counts(answer, [checked])})
    )
