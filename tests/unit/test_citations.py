"""Citations checked against the documents: right, on the wrong page, invented, quote-less."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.chat.citation_grammar import parse
from desktop_app.core.chat.citations import check, counts, summary
from desktop_app.core.chat.retrieval import PassageIndex
from desktop_app.core.documents.matching import normalize
from desktop_app.core.documents.model import Document, Unit

PAGES = [
    "1. Parties\nThis lease is made between the landlord and the tenant.",
    "2. Rent\nThe rent is 1,200 euros per month, payable in ad-\nvance on the first day.",
    "3. Termination\nEither party may end this lease with ninety (90) days’ written notice.",
]


def _lease() -> Document:
    units = tuple(Unit("page", i + 1, None, text) for i, text in enumerate(PAGES))
    return Document(Path("lease.pdf"), "0" * 64, "Lease", "pdf", units)


def _spec() -> Document:
    units = (
        Unit("section", None, "4 Delivery", "Goods are delivered within 30 days."),
        Unit("section", None, "4.2 Late delivery", "A penalty of 2% per week applies."),
    )
    return Document(Path("spec.docx"), "1" * 64, "Spec", "docx", units)


def _statuses(answer: str, docs=None) -> list[tuple[str, str | None]]:
    checked = check(answer, docs or [_lease(), _spec()])
    return [(c.status, None if c.unit is None else c.unit.locator()) for c in checked]


def test_a_right_quote_is_verified_despite_case_quotes_and_hyphenation() -> None:
    answer = ('Notice is 90 days [Page 3: "ninety (90) days\' Written Notice"]; rent is paid '
              'early [Page 2: "payable in advance"].')  # fmt: skip
    assert _statuses(answer) == [("verified", "[Page 3]"), ("verified", "[Page 2]")]


def test_a_quote_on_another_page_says_where_it_is() -> None:
    checked = check('[Page 1: "1,200 euros per month"]', [_lease()])
    assert [(c.status, c.unit.number) for c in checked] == [("elsewhere", 2)]
    assert checked[0].describe() == "quote found on page 2, not page 1"


def test_an_invented_quote_and_a_page_that_does_not_exist_are_not_found() -> None:
    answer = '[Page 2: "the tenant may keep a dog"] and [Page 9]'
    assert _statuses(answer) == [("not_found", None), ("not_found", None)]
    assert summary(check(answer, [_lease()])) == "2 of 2 citations not found in the documents"


def test_a_quote_with_ocr_like_slips_still_counts_but_a_different_claim_does_not() -> None:
    assert _statuses('[Page 3: "either party may end this lcase with ninety (9O) days"]') == [
        ("verified", "[Page 3]")
    ]
    assert _statuses('[Page 3: "neither party may ever end this lease at all"]') == [
        ("not_found", None)
    ]


def test_sections_match_by_number_and_plain_page_citations_link_to_the_page() -> None:
    answer = '[§ 4.2: "2% per week"] [§ 4: "within 30 days"] [Page 2]'
    assert _statuses(answer) == [
        ("verified", "§ 4.2 Late delivery"),
        ("verified", "§ 4 Delivery"),
        ("unquoted", "[Page 2]"),
    ]


def test_the_summary_line() -> None:
    docs = [_lease()]
    ok = '[Page 2: "1,200 euros"] [Page 3: "written notice"] [Page 1: "landlord"]'
    assert summary(check(ok, docs)) == "3 citations, all found in the document"
    moved = '[Page 2: "1,200 euros"] [Page 1: "written notice"]'
    assert summary(check(moved, docs)) == "1 of 2 citations found on another page or section"
    assert summary(check("No citations here.", docs)) == ""


def test_citation_forms_and_positions() -> None:
    answer = "See [page 2 : “payable in advance”] and [p. 3]."
    cites = parse(answer)
    assert [(c.kind, c.ref, c.quote) for c in cites] == [
        ("page", "2", "payable in advance"),
        ("page", "3", None),
    ]
    assert answer[cites[0].start : cites[0].end] == "[page 2 : “payable in advance”]"
    assert normalize("ﬁnal  Pay-\nment ’s") == "final payment 's"


def test_answers_are_checked_when_they_end_and_the_terminal_prints_the_line(capsys) -> None:
    """What `folio ask` shows and `--stats` carries, from the host that runs the answer."""
    import argparse

    from desktop_app.cli_chat import TerminalView
    from desktop_app.core.chat.session_host import SessionHost
    from desktop_app.core.llm.events import AnswerDelta, Done, GenerationStats
    from desktop_app.settings import Settings

    host = SessionHost(Path("unused.gguf"), Settings())
    host._documents = [_lease()]
    stats = GenerationStats(0.1, 50, 0, 50, None, 9, None, 2, "CPU")
    answer = 'Rent: 1,200 euros [Page 2: "1,200 euros per month"], notice [Page 1: "ninety"].'
    events = list(host._checked(iter([AnswerDelta(answer), Done(stats, "stop", answer)])))
    found = events[-1].stats.citations
    assert found.pop("checks")[1] == {
        "text": '[Page 1: "ninety"]',
        "status": "elsewhere",
        "target": "3",
        "note": "quote found on page 3, not page 1",
        "document": "lease.pdf",
        "passage": None,
        "unsent": False,
        "ocr": False,
    }
    assert found == {"total": 2, "verified": 1, "elsewhere": 1, "not_found": 0, "unquoted": 0,
                     "unsent": 0,
                     "summary": "1 of 2 citations found on another page or section"}  # fmt: skip
    view = TerminalView(argparse.Namespace(stats=True), None)
    view.end_answer(events[-1].stats.as_dict(), "stop")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[citations: 1 of 2 citations found on another page or section]"
    assert '"elsewhere": 1' in err[1]


def test_a_quoteless_citation_points_to_the_sentence_that_best_matches_its_claim() -> None:
    answer = ("The tenant gives ninety days' notice to end the lease [Page 3]. "
              "Rent is paid in advance [Page 2], and the landlord signs it [Page 1].")  # fmt: skip
    checked = check(answer, [_lease()])
    assert [c.passage for c in checked] == [
        "Either party may end this lease with ninety (90) days’ written notice.",
        "The rent is 1,200 euros per month, payable in ad-\nvance on the first day.",
        "This lease is made between the landlord and the tenant.",
    ]
    # No word of the claim on the page: nothing to point at, rather than a random line.
    assert check("Dogs are welcome [Page 1].", [_lease()])[0].passage is None


def test_in_retrieval_mode_a_citation_of_a_page_the_model_was_not_given_is_flagged() -> None:
    answer = '[Page 2: "1,200 euros"] [Page 3: "written notice"] [Page 1]'
    sent = {("lease.pdf", "[Page 2]")}  # the passages of page 2 only were sent
    checked = check(answer, [_lease()], sent)
    assert [(c.status, c.unsent) for c in checked] == [
        ("verified", False), ("verified", True), ("unquoted", True)
    ]  # fmt: skip
    assert checked[1].describe() == "page 3 was not among the passages the model was given"
    assert summary(checked) == "2 of 3 citations not among the passages the model was given"
    found = counts(answer, checked)
    assert found["unsent"] == 2 and found["checks"][1]["unsent"] is True
    # The passage index records what it gave the model, for this check.
    index = PassageIndex([_lease()], lambda text: len(text) // 4)
    index.search("What is the rent?", 60)
    assert index.sent == {("lease.pdf", "[Page 2]")}


def test_excerpts_of_a_scan_carry_the_ocr_mark_and_the_model_is_told() -> None:
    """Retrieval mode too: a passage from a scanned page says so, and the system message
    tells the model that a figure there may be misread."""
    from dataclasses import replace

    from desktop_app.core.chat.conversation import SCANS_NOTICE, Conversation
    from desktop_app.core.chat.retrieval import PassageIndex
    from desktop_app.core.documents.model import OcrLayer

    lease = _lease()
    scanned = replace(lease.units[1], ocr=OcrLayer((), 93.0))
    lease = replace(lease, units=(lease.units[0], scanned, *lease.units[2:]))
    passages = PassageIndex([lease], lambda text: len(text) // 4).search("rent euros", 500)
    rent = next(p for p in passages if "1,200 euros" in p.text)
    assert rent.render().splitlines()[:2] == [
        '<passage source="lease.pdf, [Page 2]">', "[Page 2 · OCR]"
    ]  # fmt: skip
    system = Conversation.planned("Answer.", [lease], whole=False).system_message()["content"]
    assert system.endswith(SCANS_NOTICE)
    plain = Conversation.planned("Answer.", [_lease()], whole=False).system_message()
    assert SCANS_NOTICE not in plain["content"]


def test_marks_round_trip_through_the_saved_stats_and_malformed_ones_are_skipped() -> None:
    """Checked citations travel as `Mark`s: written into the answer's stats (JSON in SQLite)
    by `counts`, read back by `marks_of` for the window and the export."""
    import json

    from desktop_app.core.chat.citations import Mark, marks_of

    answer = 'Rent [Page 1: "1,200 euros per month"] and notice [Page 3].'
    saved = json.loads(json.dumps({"citations": counts(answer, check(answer, [_lease()]))}))
    assert marks_of(saved) == {
        '[Page 1: "1,200 euros per month"]': Mark(
            '[Page 1: "1,200 euros per month"]', "elsewhere", "2",
            "quote found on page 2, not page 1", "lease.pdf",
        ),
        "[Page 3]": Mark(
            "[Page 3]", "unquoted", "3", "no quote to check", "lease.pdf",
            "Either party may end this lease with ninety (90) days’ written notice.",
        ),
    }  # fmt: skip
    damaged = {"citations": {"checks": [
        {"text": "[Page 9]", "status": "found it"},  # a status no version ever wrote
        {"status": "verified"},  # no text to find it by
        "[Page 2]",
        {"text": "[Page 2]", "status": "verified", "target": 2, "unsent": "yes"},
    ]}}  # fmt: skip
    assert marks_of(damaged) == {"[Page 2]": Mark("[Page 2]", "verified", "")}
    assert marks_of({"citations": "lost"}) == marks_of(None) == {}
