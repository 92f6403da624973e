"""A layout that holds: the chat keeps a readable width beside the source pane and the side
lists get their width back when it closes; each citation opens fitted to the pane; a long
chat title is cut with "…" instead of widening the list behind a scroll bar.

Real widgets in a 1280 × 800 window, asserting widths in pixels and what is visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.history.store import ConversationRow
from desktop_app.ui.composer import PLACEHOLDER, SHORT_PLACEHOLDER
from desktop_app.ui.conversation_list import ConversationList
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.source_room import CHAT_MIN_WIDTH, make_room
from tests.fixtures.pdf_factory import make_pdf
from tests.gui.test_source_pane import ANSWER, PAGES, _ask, _click, _links

LONG_TITLE = (
    "What does the lease say about ending it early, the deposit, pets, and who pays for "
    "repairs to the heating system in winter?"
)


@pytest.fixture
def lease(qtbot, make_window, tmp_path: Path) -> MainWindow:
    return _ask(qtbot, make_window, tmp_path, ANSWER, "lease.pdf", make_pdf(PAGES))


def _lines(label) -> int:
    """How many lines a word-wrapped label takes at its width."""
    return round(label.heightForWidth(label.width()) / label.fontMetrics().lineSpacing())


def test_the_chat_keeps_its_width_beside_the_source_pane(qtbot, lease: MainWindow) -> None:
    before = lease.splitter.sizes()
    _click(qtbot, lease, _links(lease)[0])
    qtbot.wait(50)  # the splitter lays out
    column = lease.splitter.widget(1)  # the chat: transcript above the composer
    assert column.width() >= CHAT_MIN_WIDTH and lease.chat.width() >= 480
    assert lease.source.width() >= 280
    # The composer's hint is whole (its short form when the long one would be cut).
    box = lease.composer._input
    shown = box.placeholderText()
    assert shown in (PLACEHOLDER, SHORT_PLACEHOLDER)
    assert box.fontMetrics().horizontalAdvance(shown) <= box.viewport().width()
    # The citation summary is one line under the answer, not four beside its buttons.
    summary = lease.chat.message(1).citations_label
    assert summary.text() == "1 of 4 citations not found in the documents"
    assert _lines(summary) == 1
    # Closing the pane gives the conversations and documents their width back.
    lease.source.close_pane()
    qtbot.wait(50)
    after = lease.splitter.sizes()
    assert (after[0], after[3]) == (before[0], before[3])


def test_each_citation_opens_fitted_so_its_highlight_is_in_view(qtbot, lease: MainWindow) -> None:
    pane = lease.source
    links = _links(lease)
    _click(qtbot, lease, links[0])
    while (pane.zoom or 0) < 200:  # zoomed in on this page
        with qtbot.waitSignal(pane.shown, timeout=10_000):
            pane.step_zoom(1)
    assert pane.scroll.horizontalScrollBar().maximum() > 0
    shown = _click(qtbot, lease, links[1])  # the next citation
    assert pane.zoom is None and shown.index == 2
    viewport = pane.scroll.viewport()
    assert pane.canvas.width() <= viewport.width()
    assert pane.scroll.horizontalScrollBar().maximum() == 0
    for box in pane.canvas.box_rects():
        left = pane.canvas.mapTo(viewport, box.topLeft().toPoint()).x()
        assert 0 <= left and left + box.width() <= viewport.width()


def test_a_small_window_folds_the_documents_rather_than_squeeze_the_chat() -> None:
    # 1,000 px: conversations 240, chat 460, documents 300; minimums like the real widgets'.
    sizes = make_room([240, 460, 0, 300], 560, [120, 300, 280, 200])
    assert sizes == [180, CHAT_MIN_WIDTH, 320, 0]
    # A wide window: the pane gets what it asked for, the side lists keep theirs.
    assert make_room([240, 1300, 0, 300], 560, [120, 300, 280, 200]) == [240, 740, 560, 300]
    # A 1280 px window: the documents and conversations give down to their floors.
    assert make_room([240, 725, 0, 300], 560, [120, 300, 280, 200]) == [
        180, CHAT_MIN_WIDTH, 365, 220
    ]  # fmt: skip


def test_a_long_chat_title_is_cut_with_an_ellipsis_not_scrolled(qtbot) -> None:
    sidebar = ConversationList()
    qtbot.addWidget(sidebar)
    sidebar.resize(240, 500)
    sidebar.show()
    qtbot.waitExposed(sidebar)
    sidebar.show_rows([ConversationRow(1, LONG_TITLE, 0.0, 0.0),
                       ConversationRow(2, "Rent", 0.0, 0.0)], current=1)  # fmt: skip
    listing = sidebar.list
    qtbot.wait(20)
    assert not listing.horizontalScrollBar().isVisible()
    item = listing.item(0)
    rect = listing.visualItemRect(item)
    assert rect.right() < listing.viewport().width()  # drawn within the list, so elided
    assert item.toolTip() == f"<p>{LONG_TITLE}</p>"
    assert sidebar.width() == 240
