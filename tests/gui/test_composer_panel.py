"""Composer and DocumentsPanel: keys, debounce, paste, drops and the progress/card texts.

Both widgets only emit signals, so every test drives real Qt events (key clicks, mime data,
drop events) and asserts on what is emitted; nothing here needs the model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QPushButton, QToolButton

from desktop_app.core.chat.cards import DocState, DocumentCard, Fit
from desktop_app.ui.composer import Composer
from desktop_app.ui.documents_panel import (
    DocumentsPanel,
    _CardWidget,
    card_summary,
    format_duration,
    format_progress,
)


@pytest.fixture
def composer(qtbot) -> Composer:
    widget = Composer()
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def panel(qtbot) -> DocumentsPanel:
    widget = DocumentsPanel()
    qtbot.addWidget(widget)
    widget.resize(320, 600)
    widget.show()
    return widget


def _input(composer: Composer) -> QPlainTextEdit:
    return composer.findChild(QPlainTextEdit)


def _action(composer: Composer) -> QPushButton:
    return composer.findChild(QPushButton)


def _card(key: str, state: DocState = DocState.READY, **kw) -> DocumentCard:
    fields = dict(name=f"{key}.pdf", type="pdf", pages=12, tokens=8431, verdict="", warnings=())
    fields.update(kw)
    return DocumentCard(key=key, state=state, **fields)


# -- Composer ------------------------------------------------------------------------------


def test_enter_sends_text_without_clearing(qtbot, composer: Composer) -> None:
    qtbot.keyClicks(_input(composer), "What is this?")
    with qtbot.waitSignal(composer.send_requested, timeout=1000) as blocker:
        qtbot.keyClick(_input(composer), Qt.Key.Key_Return)
    assert blocker.args == ["What is this?"]
    assert composer.text() == "What is this?"
    composer.clear()
    assert composer.text() == ""


def test_blank_text_does_not_send(qtbot, composer: Composer) -> None:
    qtbot.keyClicks(_input(composer), "   ")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(_input(composer), Qt.Key.Key_Return)
    assert not _action(composer).isEnabled()


def test_shift_enter_inserts_newline(qtbot, composer: Composer) -> None:
    qtbot.keyClicks(_input(composer), "one")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(_input(composer), Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(_input(composer), "two")
    assert composer.text() == "one\ntwo"


def test_busy_blocks_enter_but_allows_typing_and_esc_stops(qtbot, composer: Composer) -> None:
    composer.set_busy(True)
    qtbot.keyClicks(_input(composer), "next question")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(_input(composer), Qt.Key.Key_Return)
    assert composer.text() == "next question"
    with qtbot.waitSignal(composer.stop_requested, timeout=1000):
        qtbot.keyClick(_input(composer), Qt.Key.Key_Escape)


def test_esc_when_idle_does_not_stop(qtbot, composer: Composer) -> None:
    with qtbot.assertNotEmitted(composer.stop_requested):
        qtbot.keyClick(_input(composer), Qt.Key.Key_Escape)


def test_set_busy_swaps_button(qtbot, composer: Composer) -> None:
    button = _action(composer)
    assert button.text() == "Send"
    composer.set_busy(True)
    assert button.text() == "Stop" and button.isEnabled()
    with qtbot.waitSignal(composer.stop_requested, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    composer.set_busy(False)
    composer.set_text("again")
    assert button.text() == "Send"
    with qtbot.waitSignal(composer.send_requested, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["again"]


def test_draft_changed_is_debounced(qtbot, composer: Composer) -> None:
    drafts: list[str] = []
    composer.draft_changed.connect(drafts.append)
    with qtbot.waitSignal(composer.draft_changed, timeout=3000):
        qtbot.keyClicks(_input(composer), "a burst of typing")
        assert drafts == []  # nothing while typing
    qtbot.wait(700)
    assert drafts == ["a burst of typing"]


def test_programmatic_text_does_not_emit_draft(qtbot, composer: Composer) -> None:
    qtbot.keyClicks(_input(composer), "sent question")
    with qtbot.assertNotEmitted(composer.draft_changed, wait=700):
        composer.clear()
        composer.set_text("restored draft")
    assert composer.text() == "restored draft"


def test_input_grows_with_lines_up_to_a_limit(qtbot, composer: Composer) -> None:
    one_line = _input(composer).height()
    composer.set_text("\n".join(["line"] * 4))
    four_lines = _input(composer).height()
    composer.set_text("\n".join(["line"] * 30))
    assert one_line < four_lines < _input(composer).height() < 12 * four_lines


def test_paste_file_url_emits_files_pasted(qtbot, composer: Composer, tmp_path: Path) -> None:
    doc = tmp_path / "report.pdf"
    doc.write_bytes(b"%PDF-1.4")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(doc))])
    with qtbot.waitSignal(composer.files_pasted, timeout=1000) as blocker:
        _input(composer).insertFromMimeData(mime)
    assert [Path(p) for p in blocker.args[0]] == [doc]
    assert composer.text() == ""


def test_paste_path_text_emits_files_pasted(qtbot, composer: Composer, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("hello")
    mime = QMimeData()
    mime.setText(f'"{doc}"')
    with qtbot.waitSignal(composer.files_pasted, timeout=1000) as blocker:
        _input(composer).insertFromMimeData(mime)
    assert blocker.args == [[str(doc)]]


def test_paste_ordinary_text_is_inserted(qtbot, composer: Composer, tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setText(str(tmp_path / "missing.pdf"))
    with qtbot.assertNotEmitted(composer.files_pasted):
        _input(composer).insertFromMimeData(mime)
    assert composer.text() == str(tmp_path / "missing.pdf")


def test_think_button_visibility_and_toggle(qtbot, composer: Composer) -> None:
    think = composer.findChild(QToolButton)
    composer.set_thinking(False, supported=False)
    assert not think.isVisible()
    with qtbot.assertNotEmitted(composer.thinking_toggled):
        composer.set_thinking(True, supported=True)
    assert think.isVisible() and think.isChecked()
    with qtbot.waitSignal(composer.thinking_toggled, timeout=1000) as blocker:
        qtbot.mouseClick(think, Qt.MouseButton.LeftButton)
    assert blocker.args == [False]


# -- DocumentsPanel ------------------------------------------------------------------------


def test_cards_add_replace_remove(panel: DocumentsPanel) -> None:
    assert panel.card_count() == 0
    panel.set_cards([_card("a"), _card("b")])
    assert panel.card_count() == 2
    panel.update_card(_card("a", state=DocState.ERROR, error="Encrypted PDF"))
    panel.update_card(_card("c", state=DocState.LOADING))
    assert panel.card_count() == 3
    panel.remove_card("b")
    panel.remove_card("nope")
    assert panel.card_count() == 2
    panel.set_cards([])
    assert panel.card_count() == 0


def test_card_summary() -> None:
    assert card_summary(_card("a")) == "12 pages · 8,431 tokens"
    assert card_summary(_card("a", pages=1, tokens=None)) == "1 page"
    assert card_summary(_card("a", state=DocState.LOADING, pages=None, tokens=None)) == "Opening…"
    assert card_summary(_card("a", state=DocState.LOADING, pages=3, tokens=None)) == (
        "3 pages · opening…"
    )
    ocr = _card("a", state=DocState.LOADING, pages=None, tokens=None,
                verdict="reading by OCR: 3 of 40 pages")  # fmt: skip
    assert card_summary(ocr) == "Reading by OCR: 3 of 40 pages…"


def test_only_a_passages_verdict_is_a_warning(qtbot) -> None:
    """The fit decides the tint, whatever the verdict's words are."""
    whole = _CardWidget(_card("a", verdict="whole document in view", fit=Fit.WHOLE))
    parts = _CardWidget(_card("b", verdict="too large: matching excerpts", fit=Fit.PASSAGES))
    for widget in (whole, parts):
        qtbot.addWidget(widget)
    assert [label.text() for label, kind in whole._tinted] == []
    assert [(label.text(), kind) for label, kind in parts._tinted] == [
        ("too large: matching excerpts", "warning")
    ]


def test_progress_text_formatting(panel: DocumentsPanel) -> None:
    panel.set_progress(12288, 40960, 85.2, 337)
    assert panel.progress_text() == "Reading 12,288 / 40,960 tokens · 85 tok/s · 5 min 37 s left"
    panel.set_progress(0, 40960, float("nan"), None, label="Preparing")
    assert panel.progress_text() == "Preparing 0 / 40,960 tokens"
    panel.clear_progress()
    assert panel.progress_text() == ""


def test_format_helpers() -> None:
    assert format_duration(37.4) == "37 s"
    assert format_duration(300) == "5 min"
    assert format_duration(4320) == "1 h 12 min"
    assert format_progress(5, 10, 2.44, float("inf")) == "Reading 5 / 10 tokens · 2.4 tok/s"
    assert format_progress(7, 40, 1 / 1.4, 46.2, "Reading by OCR", "pages") == (
        "Reading by OCR 7 / 40 pages · 1.4 s/page · 46 s left"
    )


def _drag_and_drop(panel: DocumentsPanel, mime: QMimeData) -> tuple[bool, bool]:
    """Deliver DragEnter then Drop, as a real drag does (Qt only routes a Drop to the widget
    that accepted the DragEnter); returns whether each was accepted."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton)
    with warnings.catch_warnings():
        # PySide flags the QPoint constructor deprecated, yet it is Qt 6's only one.
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(50, 50), *args, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    drop = QDropEvent(QPointF(50, 50), *args, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, drop)
    return enter.isAccepted(), drop.isAccepted()


def test_file_drop_emits_paths(qtbot, panel: DocumentsPanel, tmp_path: Path) -> None:
    files = [tmp_path / "a.pdf", tmp_path / "b.docx"]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    with qtbot.waitSignal(panel.files_dropped, timeout=1000) as blocker:
        accepted = _drag_and_drop(panel, mime)
    assert accepted == (True, True)
    assert [Path(p) for p in blocker.args[0]] == files


def test_non_file_drop_is_ignored(qtbot, panel: DocumentsPanel) -> None:
    mime = QMimeData()
    mime.setText("just some text")
    mime.setUrls([QUrl("https://example.com/doc.pdf")])
    with qtbot.assertNotEmitted(panel.files_dropped):
        accepted = _drag_and_drop(panel, mime)
    assert accepted == (False, False)


def test_remove_button_emits_key(qtbot, panel: DocumentsPanel) -> None:
    panel.set_cards([_card("sha-1"), _card("sha-2")])
    buttons = panel.findChildren(QToolButton, "remove")
    assert len(buttons) == 2
    with qtbot.waitSignal(panel.remove_requested, timeout=1000) as blocker:
        qtbot.mouseClick(buttons[1], Qt.MouseButton.LeftButton)
    assert blocker.args == ["sha-2"]
    assert panel.card_count() == 2  # the window decides; the panel only asks


def test_attach_and_cancel_buttons(qtbot, panel: DocumentsPanel) -> None:
    panel.set_progress(1, 2, None, None)
    buttons = {b.text(): b for b in panel.findChildren(QPushButton)}
    with qtbot.waitSignal(panel.attach_requested, timeout=1000):
        qtbot.mouseClick(buttons["Attach…"], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        qtbot.mouseClick(buttons["Cancel"], Qt.MouseButton.LeftButton)


def test_a_card_shows_a_hostile_file_name_as_written(qtbot) -> None:
    """Control characters escaped, markup drawn as text: in the label and in both tooltips."""
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QLabel, QToolButton

    panel = DocumentsPanel()
    qtbot.addWidget(panel)
    name = "<b>deal</b>\x1b[2J.pdf"
    panel.set_cards([_card("k1", name=name)])
    shown = r"<b>deal</b>\x1b[2J.pdf"
    label = next(w for w in panel.findChildren(QLabel) if w.toolTip() and "deal" in w.toolTip())
    assert label.textFormat() == Qt.TextFormat.PlainText
    tips = [label.toolTip(), panel.findChild(QToolButton).toolTip()]
    rendered = []
    for tip in tips:
        doc = QTextDocument()
        doc.setHtml(tip)  # what Qt draws for a tooltip it takes as rich text
        rendered.append(doc.toPlainText())
    assert rendered == [shown, f"Remove {shown}"]
