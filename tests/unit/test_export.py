"""An answer exported as Markdown: question, answer, each citation's quote and verdict."""

from __future__ import annotations

from datetime import datetime

from desktop_app.core.chat.citations import check, counts
from desktop_app.core.chat.export import Turn, export_markdown, turns
from desktop_app.core.history.store import MessageRow
from tests.unit.test_citations import _lease

ANSWER = (
    'Rent is 1,200 euros [Page 2: "1,200 euros per month"]; notice is ninety days '
    '[Page 1: "ninety (90) days"]; dogs are fine [Page 1: "dogs are fine"]; the landlord '
    "signs it [Page 1]."
)
WHEN = datetime(2026, 12, 2, 15, 40)


def _stats(answer: str) -> dict:
    return {"citations": counts(answer, check(answer, [_lease()]))}


def test_an_answer_with_every_kind_of_citation() -> None:
    turn = Turn("What does the lease say?", ANSWER, _stats(ANSWER), "stop")
    markdown = export_markdown([turn], documents=["lease.pdf"], model="Qwen3.5-9B", when=WHEN)
    assert markdown == (
        "# What does the lease say?\n\n"
        "*Answered by Folio · 2026-12-02 15:40 · Qwen3.5-9B · documents: lease.pdf*\n\n"
        "Rent is 1,200 euros (Page 2)[^1]; notice is ninety days (Page 1)[^2]; dogs are fine "
        "(Page 1)[^3]; the landlord signs it (Page 1)[^4].\n\n"
        "**Citations:** 1 of 4 citations not found in the documents.\n\n"
        "[^1]: Page 2 of lease.pdf — ✓ quote found on the cited page — "
        "quoted: “1,200 euros per month”\n"
        "[^2]: Page 1 of lease.pdf — quote found on page 3, not page 1 — "
        "quoted: “ninety (90) days”\n"
        "[^3]: Page 1 — ⚠ not found in the documents — quoted: “dogs are fine”\n"
        "[^4]: Page 1 of lease.pdf — no quote to check — the passage that best matches: "
        "“This lease is made between the landlord and the tenant.”\n"
    )


def test_a_conversation_numbers_its_notes_on_and_says_when_an_answer_was_cut() -> None:
    rows = [
        MessageRow(1, 1, "user", "Rent?", "", None, None, 0.0),
        MessageRow(2, 1, "assistant", 'It is 1,200 [Page 2: "1,200 euros"].',
                   "", _stats('It is 1,200 [Page 2: "1,200 euros"].'), "stop", 0.0),
        MessageRow(3, 1, "user", "Notice?", "", None, None, 0.0),
        MessageRow(4, 1, "assistant", 'Ninety days [Page 3: "ninety (90)', "", None, "length", 0.0),
        MessageRow(5, 1, "user", "Unanswered?", "", None, None, 0.0),
    ]  # fmt: skip
    pairs = turns(rows)
    assert [t.question for t in pairs] == ["Rent?", "Notice?"]
    markdown = export_markdown(pairs, documents=[], model=None, when=WHEN)
    assert markdown.startswith("# Folio conversation\n\n*Answered by Folio · 2026-12-02 15:40*")
    assert "## Rent?\n\nIt is 1,200 (Page 2)[^1]." in markdown
    assert '## Notice?\n\nNinety days [Page 3: "ninety (90)\n\n' in markdown  # unfinished
    assert "*The answer was cut off at the answer-length limit.*" in markdown


def test_a_citation_of_a_scanned_page_says_it_was_read_by_ocr() -> None:
    from dataclasses import replace

    from desktop_app.core.documents.model import OcrLayer

    lease = _lease()
    scanned = replace(lease.units[1], ocr=OcrLayer((), 93.0))
    lease = replace(lease, units=(lease.units[0], scanned, *lease.units[2:]))
    answer = 'Rent is 1,200 euros [Page 2 · OCR: "1,200 euros per month"].'
    stats = {"citations": counts(answer, check(answer, [lease]))}
    markdown = export_markdown([Turn("Rent?", answer, stats, "stop")], documents=["lease.pdf"],
                               model=None, when=WHEN)  # fmt: skip
    assert "Rent is 1,200 euros (Page 2)[^1].\n" in markdown
    assert markdown.endswith(
        "[^1]: Page 2 of lease.pdf (a scan, read by OCR) — ✓ quote found on the cited page — "
        "quoted: “1,200 euros per month”\n"
    )
