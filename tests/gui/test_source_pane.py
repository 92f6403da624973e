"""The source pane, driven through the real window: a scripted answer whose citations are
right, on the wrong page, invented and quote-less is checked, marked, and each link opens
the page it should with the words highlighted (or says why not)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl

from desktop_app.ui.main_window import MainWindow
from tests.fixtures.docx_factory import make_contract_docx
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.pdf_factory import make_pdf

PAGES = [
    "Lease agreement between the landlord and the tenant.\nPets are not allowed in the flat.",
    "The rent is 1,200 euros per month, payable in advance.",
    "Either party may end this lease with ninety (90) days' written notice.",
    None,  # a scanned page: no text layer
]
ANSWER = (
    'The rent is 1,200 euros [Page 2: "1,200 euros per month"]. Notice is ninety days '
    '[Page 1: "ninety (90) days\' written notice"]. Dogs are welcome '
    '[Page 1: "dogs are welcome in the flat"]. No pets in the flat [Page 1].'
)


def _ask(qtbot, make_window, tmp_path: Path, answer: str, name: str, data: bytes) -> MainWindow:
    document = tmp_path / name
    document.write_bytes(data)
    window = make_window(FakeHost(answers=[answer]))
    window.resize(1280, 800)
    window.show()
    window.controller.add_files([str(document)])
    cid = window.conversation_id
    qtbot.waitUntil(lambda: len(window.store.documents(cid)) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not (window.controller.reading or window.preparing), timeout=10_000)
    window.controller.send("What does the lease say?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    return window


def _links(window: MainWindow) -> list[str]:
    body = window.chat.message(1).body
    return [html.unescape(h) for h in re.findall(r'href="(cite:[^"]*)"', body.toHtml())]


def _click(qtbot, window: MainWindow, href: str):
    body = window.chat.message(1).body
    with qtbot.waitSignal(window.source.shown, timeout=10_000) as shown:
        body.anchorClicked.emit(QUrl(href))
    return shown.args[0]


@pytest.fixture
def lease(qtbot, make_window, tmp_path: Path) -> MainWindow:
    return _ask(qtbot, make_window, tmp_path, ANSWER, "lease.pdf", make_pdf(PAGES))


def test_the_summary_line_and_the_marks_under_the_answer(lease: MainWindow) -> None:
    message = lease.chat.message(1)
    # On its own line, so a narrow chat does not wrap it beside the buttons.
    assert message.citations_label.text() == "1 of 4 citations not found in the documents"
    assert "citation" not in message.stats_label.text()
    text = message.body.toPlainText()
    assert "[Page 2] ✓" in text
    assert "[Page 1] (quote found on page 3, not page 1)" in text
    assert "[Page 1] ⚠ (quote not found in the documents)" in text


def test_a_verified_quote_opens_its_page_highlighted(qtbot, lease: MainWindow) -> None:
    links = _links(lease)
    assert len(links) == 4
    shown = _click(qtbot, lease, links[0])
    assert lease.source.isVisible() and lease.source.width() > 200
    assert shown.index == 1 and shown.image is not None
    assert lease.source.title.text() == "lease.pdf — Page 2"
    assert lease.source.page_label.text() == "2 of 4"
    assert len(shown.highlights) == 1
    assert lease.source.verdict.text() == "✓ Quote found on the cited page: “1,200 euros per month”"
    # The page is drawn at the screen's pixel density, fitted to the pane.
    viewport = lease.source.scroll.viewport().width()
    bar = lease.source.scroll.verticalScrollBar().sizeHint().width()
    assert viewport - 24 - bar - 2 <= lease.source.canvas.width() <= viewport - 24
    assert lease.source.scroll.horizontalScrollBar().maximum() == 0


def test_a_misplaced_quote_opens_the_page_where_it_is(qtbot, lease: MainWindow) -> None:
    shown = _click(qtbot, lease, _links(lease)[1])
    assert shown.index == 2 and len(shown.highlights) >= 1
    assert lease.source.verdict.text().startswith(
        "Moved here: quote found on page 3, not page 1: “ninety (90) days"
    )


def test_an_invented_quote_shows_the_cited_page_with_a_warning(qtbot, lease: MainWindow) -> None:
    shown = _click(qtbot, lease, _links(lease)[2])
    assert shown.index == 0 and shown.highlights == ()
    assert lease.source.verdict.text() == (
        "⚠ The quoted words are not in the document: “dogs are welcome in the flat”"
    )


def test_a_quoteless_citation_highlights_the_best_matching_sentence(
    qtbot, lease: MainWindow
) -> None:
    shown = _click(qtbot, lease, _links(lease)[3])
    assert shown.index == 0 and len(shown.highlights) == 1
    assert lease.source.ref.quote == "Pets are not allowed in the flat."
    assert lease.source.verdict.text().startswith("No quote in this citation: highlighted is")


def test_paging_zoom_and_a_scanned_page(qtbot, lease: MainWindow) -> None:
    pane = lease.source
    _click(qtbot, lease, _links(lease)[0])
    fitted = pane.canvas.width()
    with qtbot.waitSignal(pane.shown, timeout=10_000) as zoomed:
        pane.step_zoom(1)
    assert pane.canvas.width() > fitted and zoomed.args[0].index == 1
    with qtbot.waitSignal(pane.shown, timeout=10_000) as fitted_again:
        pane.fit()
    assert abs(pane.canvas.width() - fitted) <= 2 and len(fitted_again.args[0].highlights) == 1
    with qtbot.waitSignal(pane.shown, timeout=10_000) as turned:
        pane.turn(1)
    assert turned.args[0].index == 2 and turned.args[0].highlights == ()  # the quote's page only
    assert pane.verdict.text() == ""
    with qtbot.waitSignal(pane.shown, timeout=10_000) as scanned:
        pane.turn(1)
    assert scanned.args[0].index == 3 and not scanned.args[0].has_text
    assert not pane.next_button.isEnabled() and pane.page_label.text() == "4 of 4"


def test_the_pane_width_is_remembered(qtbot, lease: MainWindow) -> None:
    lease.resize(1600, 800)  # room for a 400 px pane beside a chat at its minimum width
    qtbot.wait(20)
    _click(qtbot, lease, _links(lease)[0])
    sizes = lease.splitter.sizes()
    sizes[1] += sizes[2] - 400
    sizes[2] = 400
    lease.splitter.setSizes(sizes)
    lease.source.close_pane()
    assert lease.store.app_state("source_pane_width") == "400"
    _click(qtbot, lease, _links(lease)[0])
    assert lease.splitter.sizes()[2] == 400


def test_a_section_of_a_docx_shows_its_text_with_the_quote_marked(
    qtbot, make_window, tmp_path: Path
) -> None:
    answer = ('Invoices are due in 30 days [§ 3.1: "payable within 30 days of receipt"]. '
              "The agreement runs three years [§ 4].")  # fmt: skip
    window = _ask(qtbot, make_window, tmp_path, answer, "msa.docx", make_contract_docx())
    summary = window.chat.message(1).citations_label.text()
    assert summary == "2 citations; the sections exist, 1 without a quote to check"
    shown = _click(qtbot, window, _links(window)[0])
    assert shown.image is None
    pane = window.source
    assert pane.title.text() == "msa.docx — § 3.1 Payment terms"
    selections = pane.section.extraSelections()
    assert [s.cursor.selectedText() for s in selections] == ["payable within 30 days of receipt"]
    assert pane.verdict.text() == (
        "✓ Quote found on the cited section: “payable within 30 days of receipt”"
    )
    _click(qtbot, window, _links(window)[1])  # [§ 4], no quote: the best-matching sentence
    assert pane.title.text() == "msa.docx — § 4. Term"
    selections = pane.section.extraSelections()
    assert [s.cursor.selectedText() for s in selections] == ["This Agreement runs for three years."]


def test_a_locator_that_is_not_in_the_documents_says_so(qtbot, lease: MainWindow) -> None:
    _click(qtbot, lease, "cite:99")
    assert lease.source.message.text() == (
        "“99” is not a page or section of the attached documents."
    )


def test_export_answer_writes_the_answer_with_its_checked_citations(
    qtbot, lease: MainWindow, tmp_path: Path
) -> None:
    answer = lease.chat.message(1)
    assert answer.export_button.isVisible() and not lease.chat.message(0).export_button.isVisible()
    out = tmp_path / "answer.md"
    lease.export_answer(1, str(out))
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# What does the lease say?\n\n*Answered by Folio · ")
    assert "Demo answers" not in text and " · Fake model · documents: lease.pdf*" in text
    assert "The rent is 1,200 euros (Page 2)[^1]." in text
    assert "[^2]: Page 1 of lease.pdf — quote found on page 3, not page 1 — quoted: “ninety" in text
    assert "[^3]: Page 1 — ⚠ not found in the documents — quoted: “dogs are welcome" in text
    assert "**Citations:** 1 of 4 citations not found in the documents." in text
    assert lease.statusBar().currentMessage() == f"Exported to {out}"


def test_citations_are_marked_while_the_answer_still_streams(
    qtbot, make_window, tmp_path: Path
) -> None:
    document = tmp_path / "lease.pdf"
    document.write_bytes(make_pdf(PAGES))
    answer = 'The rent is 1,200 euros [Page 2: "1,200 euros per month"].' + " More words." * 150
    window = make_window(FakeHost(answers=[answer], delay_s=0.01))
    window.controller.add_files([str(document)])
    cid = window.conversation_id
    qtbot.waitUntil(lambda: len(window.store.documents(cid)) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not (window.controller.reading or window.preparing), timeout=10_000)
    window.controller.send("Rent?")
    qtbot.waitUntil(lambda: window.chat.message_count() == 2, timeout=5000)
    body = window.chat.message(1).body
    qtbot.waitUntil(lambda: "[Page 2] ✓" in body.toPlainText(), timeout=10_000)
    assert window.controller.answering  # marked before the answer ended (about 3 s to go)
    assert window.chat.message(1).stats_label.text() == ""
    window.controller.stop()


def test_retrieval_mode_a_page_the_model_was_not_given_is_marked(qtbot, lease: MainWindow) -> None:
    from desktop_app.core.chat.citations import Mark
    from desktop_app.ui.chat_markdown import link_citations

    note = "page 3 was not among the passages the model was given"
    text = '[Page 3: "written notice"]'
    check = Mark(text, "verified", "3", note, "lease.pdf", None, unsent=True)
    linked = link_citations(f"Notice {text}.", {text: check})
    assert f"⚠ *({note})*" in linked
    href = re.search(r"\((cite:[^)]*)\)", linked).group(1)
    _click(qtbot, lease, href)
    assert lease.source.verdict.text() == (
        "⚠ Page 3 was not among the passages the model was given: it cannot have read it here."
    )


def test_an_encrypted_pdf_is_never_parsed_again_and_never_in_the_app(
    qtbot, make_window, tmp_path: Path, monkeypatch
) -> None:
    """Encrypted documents are never in the extraction cache: the pane parsed them with
    pypdf inside the app, on every click (14 s each for 10,000 pages). The document library
    keeps what it read when the file was attached, so a click parses nothing."""
    from desktop_app.core import documents
    from desktop_app.core.documents import isolated
    from tests.fixtures.password_answers import answer_passwords
    from tests.fixtures.pdf_factory import encrypt

    answer_passwords(monkeypatch, "secret")
    window = _ask(qtbot, make_window, tmp_path, ANSWER, "locked.pdf",
                  encrypt(make_pdf(PAGES), "secret"))  # fmt: skip
    in_app, in_child = [], []
    real_child = isolated.extract
    monkeypatch.setattr(documents, "parse", lambda *a: in_app.append(a))
    monkeypatch.setattr(
        isolated, "extract", lambda *a, **k: in_child.append(a) or real_child(*a, **k)
    )
    links = _links(window)
    first = _click(qtbot, window, links[0])
    assert (first.index, len(first.highlights)) == (1, 1)
    assert window.source.title.text() == "locked.pdf — Page 2"
    second = _click(qtbot, window, links[1])  # another page of it: nothing read again
    assert second.index == 2 and second.image is not None
    assert (len(in_app), len(in_child)) == (0, 0)
