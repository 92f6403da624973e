"""ChatView: rendering, throttled streaming, citations, actions and clipboard.

Offscreen Qt only; no engine: the view is fed the same calls the main window makes when
`EngineWorker` emits `delta` and `finished`.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from desktop_app.core.chat.citations import Mark
from desktop_app.ui.chat_markdown import format_stats, link_citations
from desktop_app.ui.chat_view import ChatView
from desktop_app.ui.source_ref import SourceRef

STATS = {"ttft_s": 0.42, "decode_tokens_per_s": 18.3, "cached_tokens": 4050, "cache": "disk"}

RICH_ANSWER = """## Obligations

The seller must deliver [Page 3]:

1. Goods by *March 1*
2. Invoice within 30 days

| Party | Page |
|-------|------|
| Seller | 3 |

```python
def due(days: int) -> int:
    return days + 30  # see [Page 9]
```
"""


@pytest.fixture
def view(qtbot) -> ChatView:
    v = ChatView()
    qtbot.addWidget(v)
    v.resize(900, 700)
    return v


def exchange(question: str = "What is due?", answer: str = "Payment.") -> list[tuple]:
    return [("user", question, "", None, None), ("assistant", answer, "", STATS, "stop")]


def test_set_messages_renders_one_widget_per_message_and_resets(view: ChatView) -> None:
    view.set_messages(exchange() + exchange("And then?", "Delivery."))
    assert view.message_count() == 4
    assert [view.message(i).body.toPlainText() for i in (0, 3)] == ["What is due?", "Delivery."]

    view.set_messages(exchange())
    assert view.message_count() == 2
    assert view.message(1).stats_label.text() == format_stats(STATS)


def test_streaming_is_throttled_and_keeps_every_delta(view: ChatView, qtbot) -> None:
    view.add_user_message("Tell me a story")
    view.begin_answer()
    pieces = [f"word{i} " for i in range(500)]
    started = time.perf_counter()
    for piece in pieces:
        view.append_delta(piece, "")
        qtbot.wait(1)
    elapsed = time.perf_counter() - started
    view.end_answer(STATS, "stop")

    assert 2 <= view.redraw_count() <= elapsed * 20 + 2
    answer = view.message(-1)
    assert answer.content == "".join(pieces)
    assert answer.body.toPlainText() == "".join(pieces).strip()


def test_markdown_table_and_code_block_render(view: ChatView) -> None:
    view.set_messages([("assistant", RICH_ANSWER, "", None, "stop")])
    body = view.message(0).body
    html, text = body.toHtml(), body.toPlainText()
    assert "<table" in html
    assert "Obligations" in text and "Seller" in text
    assert "def due(days: int) -> int:" in text
    assert 'href="copy-code:0"' in html


def test_unterminated_fence_while_streaming_renders_as_code(view: ChatView, qtbot) -> None:
    view.begin_answer()
    view.append_delta("Here:\n\n```python\nprint('p. 5')\n", "")
    qtbot.waitUntil(lambda: view.redraw_count() >= 1)
    body = view.message(-1).body
    assert "print('p. 5')" in body.toPlainText()
    assert "cite:5" not in body.toHtml()  # code is never linkified, even mid-stream


def test_code_block_copy_link_copies_that_block(view: ChatView) -> None:
    view.set_messages([("assistant", RICH_ANSWER, "", None, "stop")])
    view.message(0).body.anchorClicked.emit(QUrl("copy-code:0"))
    assert QApplication.clipboard().text() == (
        "def due(days: int) -> int:\n    return days + 30  # see [Page 9]\n"
    )


def test_reasoning_is_collapsed_by_default_and_toggles(view: ChatView) -> None:
    view.set_messages([("assistant", "Answer.", "Let me think about page 3.", None, "stop")])
    message = view.message(0)
    assert not message.reasoning_toggle.isHidden()
    assert message.reasoning_view.isHidden()
    message.reasoning_toggle.click()
    assert not message.reasoning_view.isHidden()
    assert "Let me think about page 3." in message.reasoning_view.toPlainText()
    message.reasoning_toggle.click()
    assert message.reasoning_view.isHidden()


def test_thinking_label_shows_until_the_first_words(view: ChatView, qtbot) -> None:
    view.begin_answer()
    message = view.message(-1)
    assert message.reasoning_toggle.isHidden()  # nothing to expand yet
    assert not message.state_label.isHidden() and message.state_label.text() == "Thinking…"
    view.append_delta("", "Hmm, ")
    qtbot.waitUntil(lambda: view.redraw_count() >= 1)
    assert not message.state_label.isHidden() and message.state_label.text() == "Thinking…"
    view.append_delta("The answer.", "")
    qtbot.waitUntil(lambda: view.redraw_count() >= 2)
    assert message.state_label.isHidden()
    view.end_answer(None, "stop")
    assert message.state_label.isHidden()
    assert message.reasoning_view.isHidden()


def test_citation_link_click_emits_locator(view: ChatView, qtbot) -> None:
    view.set_messages([("assistant", "See [Page 17].", "", None, "stop")])
    body = view.message(0).body
    assert 'href="cite:17"' in body.toHtml()
    with qtbot.waitSignal(view.citation_clicked) as blocker:
        body.anchorClicked.emit(QUrl("cite:17"))
    assert blocker.args == [SourceRef("17")]
    with qtbot.waitSignal(view.citation_clicked) as blocker:
        body.anchorClicked.emit(QUrl("cite:12.3"))
    assert blocker.args == [SourceRef("12.3")]
    # A checked citation's link carries its quote, document and verdict to the source pane.
    ref = SourceRef("3", "ninety (90) days' notice", "lease.pdf", False, "elsewhere",
                    "quote found on page 3, not page 1")  # fmt: skip
    with qtbot.waitSignal(view.citation_clicked) as blocker:
        body.anchorClicked.emit(QUrl(ref.url()))
    assert blocker.args == [ref]


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("as shown [Page 17].", r"[\[Page 17\]](cite:17)"),
        ("in the preface [Page iv]", r"[\[Page iv\]](cite:iv)"),
        ("see p. 17 for details", "[p. 17](cite:17)"),
        ("see pp. 3–5", "[pp. 3–5](cite:3)"),
        ("under § 12.3.", "[§ 12.3](cite:12.3)"),
        # A citation with its quote shows as the locator alone; the quote rides in the link.
        ('rent [Page 2: "1,200 euros"].', r"rent [\[Page 2\]](cite:2?q=1%2C200%20euros)."),
        ("runs three years [§ 4].", r"runs three years [\[§ 4\]](cite:4)."),
        ("[§ 4.2: “late delivery”]", r"[\[§ 4.2\]](cite:4.2?q=late%20delivery)"),
    ],
)
def test_citation_regex_marks_locators(text: str, link: str) -> None:
    assert link in link_citations(text)


@pytest.mark.parametrize(
    "text",
    [
        "```\nsee p. 17 and § 12.3 [Page 17]\n```\n",
        "~~~text\n[Page 4]\n~~~\n",
        "run `grep 'p. 17'` first",
        "the step. 5 and app. 3 are not pages",
        "already [Page 2](cite:2) linked",
    ],
)
def test_citation_regex_leaves_code_and_non_locators_alone(text: str) -> None:
    assert link_citations(text) == text


def test_citations_in_prose_around_a_code_block(view: ChatView) -> None:
    markdown = "Before p. 2.\n\n```\np. 99\n```\n\nAfter § 4."
    linked = link_citations(markdown)
    assert "[p. 2](cite:2)" in linked and "[§ 4](cite:4)" in linked and "\np. 99\n" in linked
    view.set_messages([("assistant", markdown, "", None, "stop")])
    html = view.message(0).body.toHtml()
    assert 'href="cite:2"' in html and 'href="cite:4"' in html and "cite:99" not in html


@pytest.mark.parametrize(
    ("reason", "notice"),
    [
        ("length", "Cut off: answer length limit reached"),
        ("context_full", "Cut off: the context is full"),
        ("cancelled", "Stopped"),
    ],
)
def test_end_answer_shows_cut_off_notice(view: ChatView, reason: str, notice: str) -> None:
    view.begin_answer()
    view.append_delta("Partial", "")
    view.end_answer(STATS, reason)
    message = view.message(-1)
    assert not message.notice_label.isHidden()
    assert message.notice_label.text() == notice
    assert message.body.toPlainText() == "Partial"


def test_finished_answer_has_stats_and_no_notice(view: ChatView) -> None:
    view.begin_answer()
    view.append_delta("Done.", "")
    view.end_answer(STATS, "stop")
    message = view.message(-1)
    assert message.notice_label.isHidden()
    assert message.stats_label.text() == (
        "0.42 s to first token · 18.3 tok/s · 4,050 tokens from cache (disk)"
    )


def test_format_stats_leaves_out_what_was_not_measured() -> None:
    assert format_stats(None) == ""
    stats = {"ttft_s": None, "decode_tokens_per_s": 7.0, "cached_tokens": 0, "cache": "none"}
    assert format_stats(stats) == "7.0 tok/s"
    assert format_stats({"cached_tokens": 12, "cache": "ram"}) == "12 tokens from cache (RAM)"


def test_regenerate_and_edit_only_on_last_messages(view: ChatView, qtbot) -> None:
    view.set_messages(exchange("First?", "One.") + exchange("Second?", "Two."))
    regen = [not view.message(i).regenerate_button.isHidden() for i in range(4)]
    edit = [not view.message(i).edit_button.isHidden() for i in range(4)]
    assert regen == [False, False, False, True]
    assert edit == [False, False, True, False]

    with qtbot.waitSignal(view.regenerate_requested):
        view.message(3).regenerate_button.click()
    with qtbot.waitSignal(view.edit_requested):
        view.message(2).edit_button.click()


def test_actions_follow_the_conversation_as_it_grows(view: ChatView) -> None:
    view.set_messages(exchange())
    view.add_user_message("Follow-up?")
    assert view.message(1).regenerate_button.isHidden()  # no longer the last message
    assert view.message(0).edit_button.isHidden()
    assert not view.message(2).edit_button.isHidden()

    view.begin_answer()
    assert view.message(3).regenerate_button.isHidden()  # not while it streams
    assert view.message(3).copy_button.isHidden()
    view.end_answer(None, "stop")
    assert not view.message(3).regenerate_button.isHidden()
    assert not view.message(2).edit_button.isHidden()


def test_copy_puts_raw_markdown_on_clipboard(view: ChatView, qtbot) -> None:
    view.set_messages(exchange(answer=RICH_ANSWER))
    with qtbot.waitSignal(view.copy_requested) as blocker:
        view.message(1).copy_button.click()
    assert blocker.args == [1]
    assert QApplication.clipboard().text() == RICH_ANSWER


def test_100_kb_message_renders_under_a_second(view: ChatView, qtbot) -> None:
    view.show()
    qtbot.waitExposed(view)
    prose = "The seller delivers within thirty days [Page 12]; the buyer pays (p. 14). " * 8
    section = (
        f"## Section\n\n{prose}\n\n{prose}\n\n- a point with **bold**\n- another, `code`\n\n"
        "| Clause | Page |\n|---|---|\n| Delivery | 12 |\n\n"
        "```python\nfor item in order:\n    ship(item)\n```\n\n"
    )
    markdown = (section * (100_000 // len(section) + 1))[:100_000]
    started = time.perf_counter()
    view.set_messages(
        [("user", "Summarise", "", None, None), ("assistant", markdown, "", None, "stop")]
    )
    QApplication.processEvents()
    assert time.perf_counter() - started < 1.0
    assert view.message(1).body.toPlainText().count("Section") >= 40


def test_follows_the_stream_unless_scrolled_up(view: ChatView, qtbot) -> None:
    view.show()
    qtbot.waitExposed(view)
    view.set_messages(exchange(answer="Long.\n\n" * 150))
    bar = view._scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())

    view.begin_answer()
    view.append_delta("More.\n\n" * 50, "")
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() and view.redraw_count() >= 1)

    bar.setValue(0)  # the user scrolls up to reread
    view.append_delta("Even more.\n\n" * 50, "")
    qtbot.waitUntil(lambda: view.redraw_count() >= 2)
    qtbot.wait(50)
    assert bar.value() == 0


def test_checked_citations_are_marked_and_a_misplaced_one_links_where_the_quote_is() -> None:
    answer = 'Rent [Page 2: "1,200 euros"], notice [Page 1: "ninety"], dog [Page 1: "dogs ok"].'
    checks = {
        '[Page 2: "1,200 euros"]': {"status": "verified", "target": "2", "note": "found"},
        '[Page 1: "ninety"]': {
            "status": "elsewhere",
            "target": "3",
            "note": "quote found on page 3, not page 1",
        },  # fmt: skip
        '[Page 1: "dogs ok"]': {
            "status": "not_found",
            "target": "1",
            "note": "quote not found in the documents",
        },  # fmt: skip
    }
    linked = link_citations(answer, {text: Mark(text, **fields) for text, fields in checks.items()})
    assert r"[\[Page 2\]](cite:2?q=1%2C200%20euros&s=verified&n=found) ✓" in linked
    moved = "cite:3?q=ninety&s=elsewhere&n=quote%20found%20on%20page%203%2C%20not%20page%201"
    assert rf"[\[Page 1\]]({moved}) *(quote found on page 3, not page 1)*" in linked
    invented = "cite:1?q=dogs%20ok&s=not_found&n=quote%20not%20found%20in%20the%20documents"
    assert rf"[\[Page 1\]]({invented}) ⚠ *(quote not found in the documents)*" in linked


def test_a_message_redraws_with_marks_once_its_citations_are_checked(qtbot) -> None:
    from desktop_app.ui.chat_view import MessageWidget

    widget = MessageWidget("assistant")
    qtbot.addWidget(widget)
    widget.set_text('The rent [Page 1: "pets welcome"].')
    assert "⚠" not in widget.body.toPlainText()
    check = {"text": '[Page 1: "pets welcome"]', "status": "not_found", "target": "1",
             "note": "quote not found in the documents"}  # fmt: skip
    widget.set_outcome({"citations": {"summary": "1 of 1 citation not found in the documents",
                                      "checks": [check]}}, "stop")  # fmt: skip
    assert widget.body.toPlainText().strip() == (
        "The rent [Page 1] ⚠ (quote not found in the documents)."
    )
    assert widget.citations_label.text() == "1 of 1 citation not found in the documents"
