"""The main window with a fake model: streaming, stop, switching, persistence, drops."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop_app.core.history.store import Store
from desktop_app.ui.main_window import MainWindow
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.password_answers import answer_passwords


def wait_idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)


def test_answer_streams_and_is_saved(qtbot, make_window):
    window = make_window()
    window.controller.send("What is the fee?")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    wait_idle(qtbot, window)
    messages = window.store.messages(window.conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content.startswith("Answer to: What is the fee?")
    assert messages[1].finish_reason == "stop" and messages[1].stats["decode_tokens"] > 0
    assert window.chat.message_count() == 2
    assert "tok/s" in window.speed_label.text()
    title = window.store.conversation(window.conversation_id).title
    assert title == "What is the fee?"


def test_stop_keeps_the_partial_answer(qtbot, make_window):
    window = make_window(FakeHost(delay_s=0.05))
    window.controller.send("Tell me everything.")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    window.controller.stop()
    wait_idle(qtbot, window)
    answer = window.store.messages(window.conversation_id)[-1]
    assert answer.finish_reason == "cancelled"
    assert answer.content.startswith("Answer to:") and len(answer.content) < 300


def test_switching_conversations_mid_answer_sends_text_to_the_right_chat(qtbot, make_window):
    window = make_window(FakeHost(delay_s=0.01))
    first = window.conversation_id
    window.controller.send("First question")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    assert window.documents.progress_text() == ""  # reading the prompt is over
    window.controller.new_conversation()
    second = window.conversation_id
    assert second != first and window.chat.message_count() == 0
    wait_idle(qtbot, window)
    assert window.store.messages(second) == []
    saved = window.store.messages(first)[-1]
    assert saved.role == "assistant"
    assert saved.content == "Answer to: First question " + "more words " * 30
    assert saved.finish_reason == "stop"
    # Coming back shows the finished answer, and the composer takes the next question.
    window.controller.open_conversation(first)
    assert window.chat.message(1).content == saved.content
    assert window.chat.message(1).notice_label.text() == ""  # not "Stopped"
    assert window.composer._action.text() == "Send"


def test_restart_restores_conversation_and_draft(qtbot, make_window):
    window = make_window()
    window.controller.send("Remember me")
    wait_idle(qtbot, window)
    window.composer.set_text("half-typed next question")
    cid = window.conversation_id
    window.close()
    again = make_window()
    assert again.conversation_id == cid
    assert again.chat.message_count() == 2
    assert again.composer.text() == "half-typed next question"
    # The session is reopened with the saved turns.
    assert again.host.opened[-1][1][0][0] == "Remember me"


def test_closing_mid_answer_saves_what_arrived(qtbot, make_window):
    window = make_window(FakeHost(delay_s=0.05))
    window.controller.send("Long answer please")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    cid = window.conversation_id
    window.close()
    assert window.host.closed
    # The model is freed on the engine thread, after its last job ended, not under it.
    assert window.host.closed_on != threading.get_ident()
    saved = Store().messages(cid)[-1]
    shown = window.chat.message(1)  # what the user saw before closing
    assert saved.finish_reason == "cancelled"
    assert saved.content.startswith("Answer to:")
    assert saved.content == shown.content  # all that arrived, as the window showed it


def test_dropping_a_file_attaches_it(qtbot, make_window, tmp_path: Path):
    doc = tmp_path / "notes.txt"
    doc.write_text("The fee is 1,250 euros.", encoding="utf-8")
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(doc))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    window.dropEvent(event)
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    qtbot.waitUntil(lambda: window.host.opened[-1][0] == [str(doc)])
    # The card is rebuilt from the store once the session reopens with the document.
    qtbot.waitUntil(lambda: window.documents.card_count() == 1)


def test_bad_file_shows_an_error_card(qtbot, make_window, tmp_path: Path, monkeypatch):
    bad = tmp_path / "photo.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    window = make_window()
    window.controller.add_files([str(bad)])
    qtbot.waitUntil(lambda: window.documents.card_count() == 1 and not window.controller.reading)
    assert window.store.documents(window.conversation_id) == []
    card = window.documents.card(f"loading:{bad}")
    assert card.state == "error" and card.name == "photo.pdf"
    assert card.error == "photo.pdf is a damaged image (or a kind Folio cannot read)."


def test_regenerate_replaces_the_last_answer(qtbot, make_window):
    window = make_window()
    window.controller.send("Question")
    wait_idle(qtbot, window)
    window.controller.regenerate()
    wait_idle(qtbot, window)
    messages = window.store.messages(window.conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[-1].content == "A regenerated answer."


def test_rename_and_delete_conversations(qtbot, make_window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    window = make_window()
    first = window.conversation_id
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Contract review", True))
    window.rename_conversation()
    assert window.store.conversation(first).title == "Contract review"
    assert window.sidebar.list.item(0).text() == "Contract review"
    window.controller.new_conversation()
    second = window.conversation_id
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Yes)
    window.delete_conversation()
    assert window.store.conversation(second) is None
    assert window.conversation_id == first


def test_settings_change_reconfigures_the_session(qtbot, make_window, monkeypatch):
    from desktop_app import settings as settings_mod
    from desktop_app.ui.dialogs.settings_dialog import SettingsDialog
    from tests.fixtures.gguf_factory import smollm2_path

    window = make_window()
    changed = settings_mod.Settings(model_path=str(smollm2_path()), system_prompt="Be brief.")
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: SettingsDialog.DialogCode.Accepted)
    monkeypatch.setattr(SettingsDialog, "result_settings", lambda self: changed)
    opened = len(window.host.opened)
    window.open_settings()
    qtbot.waitUntil(lambda: len(window.host.opened) > opened)
    assert settings_mod.load().system_prompt == "Be brief."
    assert window.host.settings.system_prompt == "Be brief."
    assert window.host.model_path == smollm2_path()


def test_edit_last_question_resends_it(qtbot, make_window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    window = make_window()
    window.controller.send("What is the fee?")
    wait_idle(qtbot, window)
    monkeypatch.setattr(QInputDialog, "getMultiLineText",
                        lambda *a, **k: ("What is the deadline?", True))  # fmt: skip
    window.chat.edit_requested.emit()
    wait_idle(qtbot, window)
    messages = window.store.messages(window.conversation_id)
    assert [m.content for m in messages if m.role == "user"] == ["What is the deadline?"]
    assert messages[-1].content.startswith("Answer to: What is the deadline?")


def _encrypted_pdf_and_prompts(tmp_path: Path, monkeypatch) -> tuple[Path, list[str]]:
    """An AES-256 PDF, and the password prompts shown (each answered with its password)."""
    from tests.fixtures.pdf_factory import encrypt, make_pdf

    pdf = tmp_path / "secret.pdf"
    pdf.write_bytes(encrypt(make_pdf(["Top secret fee: 9 euros."]), "s3cret", "AES-256"))
    return pdf, answer_passwords(monkeypatch, "s3cret")


def test_encrypted_pdf_asks_for_the_password(qtbot, make_window, tmp_path: Path, monkeypatch):
    pdf, asked = _encrypted_pdf_and_prompts(tmp_path, monkeypatch)
    window = make_window()
    window.controller.add_files([str(pdf)])
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    assert asked and "password-protected" in asked[0]


def test_extraction_reports_page_progress(qtbot, make_window, tmp_path: Path):
    from tests.fixtures.pdf_factory import make_long_pdf

    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(make_long_pdf(40))
    window = make_window()
    seen: list[tuple[int, int]] = []
    shown = window.show_progress  # the controller tells its view; record what it said
    window.show_progress = lambda p, label, unit: (
        seen.append((p.done, p.total)),
        shown(p, label, unit),
    )
    window.controller.add_files([str(pdf)])
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    assert seen and seen[-1][1] == 40
    assert window.store.documents(window.conversation_id)[0].pages == 40


def test_closing_while_a_session_opens_starts_nothing_new(qtbot, make_window, tmp_path: Path):
    doc = tmp_path / "notes.txt"
    doc.write_text("Some text.", encoding="utf-8")
    window = make_window()
    opened = len(window.host.opened)
    window.controller.add_files([str(doc)])
    window.close()  # results delivered during shutdown must not submit new jobs
    assert window.host.closed
    assert len(window.host.opened) == opened  # no session was reopened for the document
    assert not window.preparing


def test_models_dialog_choice_switches_the_model(qtbot, make_window):
    from desktop_app import settings as settings_mod
    from tests.fixtures.gguf_factory import smollm2_path

    window = make_window()
    dialog = window.open_models()
    qtbot.addWidget(dialog)
    opened = len(window.host.opened)
    dialog.model_chosen.emit(str(smollm2_path()))
    qtbot.waitUntil(lambda: len(window.host.opened) > opened)
    assert window.host.model_path == smollm2_path()
    assert settings_mod.load().model_path == str(smollm2_path())


def test_ok_in_settings_keeps_a_model_switched_while_it_was_open(qtbot, make_window, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from desktop_app import settings as settings_mod
    from desktop_app.ui.dialogs.settings_dialog import SettingsDialog
    from desktop_app.ui.theme import apply_theme
    from tests.fixtures.gguf_factory import smollm2_path

    window = make_window()
    downloaded = str(smollm2_path())

    def download_finishes_meanwhile(dialog: SettingsDialog):
        window.use_model(downloaded)  # as when a download ends while Settings is open
        dialog.appearance.theme.setCurrentIndex(2)  # the user changes something else, then OK
        return SettingsDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", download_finishes_meanwhile)
    try:
        window.open_settings()
    finally:
        apply_theme(QApplication.instance(), "system")  # the palette is app-wide
    assert settings_mod.load().model_path == downloaded
    assert settings_mod.load().theme == "dark"
    qtbot.waitUntil(lambda: window.host.model_path == smollm2_path())


def _hold_engine(window: MainWindow, seconds: float) -> None:
    """Occupy the engine thread, so what is submitted next waits in the queue."""
    import time

    window.controller.engine.call(lambda cancel: time.sleep(seconds), lambda event: None)


def test_coming_back_mid_answer_shows_it_streaming_to_the_end(qtbot, make_window):
    window = make_window(FakeHost(delay_s=0.01))
    first = window.conversation_id
    window.controller.send("First question")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    window.controller.new_conversation()
    window.controller.open_conversation(first)  # while the answer still streams
    assert window.composer._action.text() == "Stop"
    wait_idle(qtbot, window)
    full = "Answer to: First question " + "more words " * 30
    assert window.chat.message_count() == 2
    assert window.chat.message(1).content == full
    assert window.store.messages(first)[-1].content == full
    # The session was reopened from the finished turn, not the part saved mid-stream.
    qtbot.waitUntil(lambda: not window.preparing)
    assert window.host.opened[-1][1] == [("First question", full)]


def test_stop_of_a_queued_answer_frees_the_composer(qtbot, make_window):
    window = make_window()
    _hold_engine(window, 3.0)  # e.g. a long document pre-read
    window.controller.send("Queued question")
    window.controller.stop()  # the answer never started: it ends now, not when its turn comes
    assert not window.controller.answering
    assert window.composer._action.text() == "Send"
    answer = window.store.messages(window.conversation_id)[-1]
    assert (answer.role, answer.content, answer.finish_reason) == ("assistant", "", "cancelled")
    assert window.chat.message(1).notice_label.text() == "Stopped"


def test_cancelling_a_queued_extraction_removes_its_card(qtbot, make_window, tmp_path: Path):
    doc = tmp_path / "notes.txt"
    doc.write_text("Some text.", encoding="utf-8")
    window = make_window()
    _hold_engine(window, 0.5)
    window.controller.add_files([str(doc)])
    assert window.documents.card_count() == 1  # "opening…"
    window.controller.cancel_reading()
    qtbot.waitUntil(lambda: not window.controller.reading, timeout=5000)
    assert window.documents.card_count() == 0
    assert window.store.documents(window.conversation_id) == []


def test_an_answer_cut_short_by_a_crash_shows_as_interrupted(qtbot, make_window):
    """kill -9 mid-answer: the text saved once a second is there, marked as unfinished."""
    store = Store()
    cid = store.create_conversation().id
    store.add_message(cid, "user", "Question")
    store.add_message(cid, "assistant", "The first half of")  # no finish reason: never ended
    store.set_app_state("open_conversation", str(cid))
    store.close()
    window = make_window()
    assert window.conversation_id == cid
    shown = window.chat.message(1)
    assert shown.content == "The first half of"
    assert shown.notice_label.text() == "Interrupted: Folio closed before this answer finished"
    assert not shown.regenerate_button.isHidden()
    assert not shown.continue_button.isHidden()
    shown.continue_button.click()  # goes on from where it stopped
    wait_idle(qtbot, window)
    assert window.chat.message_count() == 2
    assert window.chat.message(1).content == "The first half of and the rest of it."
    assert window.store.messages(cid)[-1].finish_reason == "stop"
    assert window.chat.message(1).continue_button.isHidden()  # finished: nothing to continue


def _attached_then_reopened(qtbot, make_window, doc: Path, before_reopen) -> MainWindow:
    window = make_window()
    window.controller.add_files([str(doc)])
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    cid = window.conversation_id
    window.close()
    before_reopen()
    again = make_window()
    assert again.conversation_id == cid
    return again


def test_a_moved_file_is_read_from_the_extraction_cache(qtbot, make_window, tmp_path: Path):
    doc = tmp_path / "notes.txt"
    doc.write_text("The notice period is ninety days.", encoding="utf-8")
    window = _attached_then_reopened(qtbot, make_window, doc, doc.unlink)
    sha = window.store.documents(window.conversation_id)[0].sha256
    qtbot.waitUntil(lambda: (window.documents.card(sha) or None) is not None
                    and window.documents.card(sha).state == "ready")  # fmt: skip
    card = window.documents.card(sha)
    assert "notes.txt was moved or deleted; using the text read earlier" in card.warnings
    assert card.verdict == "whole document in view"  # the model still sees it


def test_a_vanished_file_without_cached_text_is_shown_as_left_out(
    qtbot, make_window, tmp_path: Path
):
    from desktop_app.core.documents import cache

    doc = tmp_path / "notes.txt"
    doc.write_text("The notice period is ninety days.", encoding="utf-8")

    def vanish() -> None:
        doc.unlink()
        cache._delete_database()

    window = _attached_then_reopened(qtbot, make_window, doc, vanish)
    sha = window.store.documents(window.conversation_id)[0].sha256
    qtbot.waitUntil(lambda: (window.documents.card(sha) or None) is not None
                    and window.documents.card(sha).state == "error")  # fmt: skip
    assert "notes.txt was moved or deleted, and its text is not cached" in (
        window.documents.card(sha).error
    )
    assert window.host.opened[-1][0] == []  # reopened, with nothing in the model's view


def test_an_encrypted_document_asks_again_after_a_restart(
    qtbot, make_window, tmp_path: Path, monkeypatch
):
    pdf, asked = _encrypted_pdf_and_prompts(tmp_path, monkeypatch)
    window = make_window()
    window.controller.add_files([str(pdf)])
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    window.close()
    asked.clear()
    again = make_window()  # a new run: the password was never written down
    sha = again.store.documents(again.conversation_id)[0].sha256
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    assert "secret.pdf is encrypted: enter its password to include it" in asked[0]
    qtbot.waitUntil(lambda: (again.documents.card(sha) or None) is not None
                    and again.documents.card(sha).state == "ready", timeout=10_000)  # fmt: skip


def test_a_document_dropped_while_an_answer_streams_is_read_at_once(
    qtbot, make_window, tmp_path: Path
):
    """Documents are read on their own queue (in a child process), not behind the answer."""
    doc = tmp_path / "notes.txt"
    doc.write_text("The notice period is ninety days.", encoding="utf-8")
    window = make_window(FakeHost(delay_s=0.05))  # about two seconds of answer
    window.controller.send("Tell me everything.")
    qtbot.waitUntil(lambda: window.chat.redraw_count() > 0)
    window.controller.add_files([str(doc)])
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    assert window.controller.answering, "the document waited for the answer to finish"
    wait_idle(qtbot, window)
    answer = window.store.messages(window.conversation_id)[-1]
    assert answer.finish_reason == "stop"  # and the answer was not disturbed


def test_a_document_being_read_keeps_its_card_when_the_cards_are_rebuilt(
    qtbot, make_window, tmp_path: Path
):
    """Seen in the window: a PDF handed over lost its "opening…" card when the new chat's
    session came back a moment later, while its pages were still being read."""
    from tests.fixtures.pdf_factory import make_long_pdf

    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(make_long_pdf(600))
    window = make_window()
    window.controller.add_files([str(pdf)])
    window.controller.open_conversation(window.conversation_id)  # cards rebuilt mid-read
    qtbot.waitUntil(lambda: not window.preparing)
    assert window.controller.reading, "600 pages read before the session reopened: no race to test"
    assert window.documents.card(f"loading:{pdf}").state == "loading"
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1,
                    timeout=20_000)  # fmt: skip


def test_the_new_chat_shortcut_opens_a_new_chat(qtbot, make_window, warnings_shown):
    """Seen under Xvfb: Ctrl+N handed the action's `checked` flag to the controller."""
    window = make_window()
    first = window.conversation_id
    window.controller.send("First question")  # a blank chat would be reused instead
    wait_idle(qtbot, window)
    [action] = [a for a in window.actions() if a.text() == "New chat"]
    action.trigger()
    assert window.conversation_id != first
    assert window.sidebar.list.count() == 2
    assert window.store.documents(window.conversation_id) == []
    action.trigger()  # again, in the blank one: no second blank chat
    assert window.sidebar.list.count() == 2


def test_after_a_restart_the_open_chat_is_the_highlighted_one(qtbot, make_window) -> None:
    window = make_window()
    window.controller.send("First question")
    wait_idle(qtbot, window)
    first = window.conversation_id
    window.controller.new_conversation()
    window.controller.send("Second question")
    wait_idle(qtbot, window)
    window.controller.open_conversation(first)
    window.close()
    again = make_window()
    assert again.conversation_id == first
    item = again.sidebar.list.currentItem()
    assert item is not None and item.data(Qt.ItemDataRole.UserRole) == first


def test_the_context_meter_and_the_plan_line_belong_to_the_open_chat(
    qtbot, make_window, tmp_path: Path
) -> None:
    """Seen: a new, empty chat still showed the last chat's "Context: 4581 / 8,192"."""
    doc = tmp_path / "notes.txt"
    doc.write_text("The notice period is ninety days.", encoding="utf-8")
    window = make_window()
    window.controller.add_files([str(doc)])
    qtbot.waitUntil(lambda: not (window.controller.reading or window.preparing))
    first = window.conversation_id
    assert (window.documents.plan.isVisibleTo(window), window.documents.plan.text()) == (
        True, "1 documents in view; context 8,192 tokens",
    )  # fmt: skip
    window.controller.send("What is the notice period?")
    wait_idle(qtbot, window)
    stats = window.store.messages(first)[-1].stats
    used = stats["prompt_tokens"] + stats["decode_tokens"]
    assert window.context_meter.isVisibleTo(window)
    assert window.context_meter.text() == f"Context: {used} / 8,192 tokens"
    window.controller.new_conversation()
    assert not window.context_meter.isVisibleTo(window) and window.speed_label.text() == ""
    assert not window.documents.plan.isVisibleTo(window)
    window.controller.open_conversation(first)
    assert window.context_meter.text() == f"Context: {used} / 8,192 tokens"
    assert window.documents.plan.text() == "1 documents in view; context 8,192 tokens"
