"""The Qt-free controller with a strict view and the fake host: the lifecycle rules the
window and the CLI both rely on, without a display or a model."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.chat.cards import DocState
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.strict_view import StrictView

FULL = "Answer to: First question " + "more words " * 30


def test_an_answer_finishes_in_its_own_conversation_while_another_is_open(make) -> None:
    controller, view, pump_until = make(FakeHost(delay_s=0.01))
    first = controller.conversation_id
    controller.send("First question")
    pump_until(lambda: bool(view.streamed))
    controller.new_conversation()
    second = controller.conversation_id
    pump_until(lambda: not controller.answering)

    saved = controller.store.messages(first)[-1]
    assert (saved.content, saved.finish_reason) == (FULL, "stop")
    assert controller.store.messages(second) == []
    # Only the open conversation's answer is drawn: nothing after the switch.
    assert view.named("end_answer") == []


def test_continue_appends_to_a_stopped_answer(make) -> None:
    controller, view, pump_until = make(FakeHost(delay_s=0.05))
    controller.send("Tell me everything.")
    pump_until(lambda: bool(view.streamed))
    controller.stop()
    pump_until(lambda: not controller.answering)
    stopped = controller.store.messages(controller.conversation_id)[-1]
    assert stopped.finish_reason == "cancelled" and stopped.content

    controller.continue_answer()
    # In flight again: a crash from now on must show it as interrupted, not "Stopped".
    assert controller.store.messages(controller.conversation_id)[-1].finish_reason is None
    pump_until(lambda: not controller.answering)
    msgs = controller.store.messages(controller.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[-1].content == stopped.content + " and the rest of it."
    assert msgs[-1].finish_reason == "stop"
    assert view.named("end_answer")[-1][1] == "stop"


def test_a_new_conversation_with_files_opens_its_session_once_they_are_read(
    make, tmp_path: Path
) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("The notice period is ninety days.", encoding="utf-8")
    controller, view, pump_until = make()
    host = controller.host
    opened = len(host.opened)
    controller.new_conversation([str(doc)])
    pump_until(lambda: not controller.reading and not controller.preparing)
    # One open, with the document: not one without it and another with it.
    assert host.opened[opened:] == [([str(doc)], [])]
    [card] = view.cards.values()
    assert card.state is DocState.READY and card.name == "notes.txt"


def test_a_file_that_cannot_be_read_still_lets_the_session_open(make, tmp_path: Path) -> None:
    bad = tmp_path / "photo.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    controller, view, pump_until = make()
    opened = len(controller.host.opened)
    controller.save_draft("A draft")  # not blank: the file gets a chat of its own
    controller.new_conversation([str(bad)])
    pump_until(lambda: not controller.reading and not controller.preparing)
    assert controller.host.opened[opened:] == [([], [])]
    card = view.cards[f"loading:{bad}"]
    assert card.state is DocState.ERROR
    assert card.error == "photo.pdf is a damaged image (or a kind Folio cannot read)."


def test_the_terminal_opens_no_session_when_a_file_is_refused(make, tmp_path: Path) -> None:
    """`folio ask` builds its controller this way: a refused file must end the run before a
    model loads, so the session never opens, not even without the file."""
    good, bad = tmp_path / "notes.txt", tmp_path / "photo.pdf"
    good.write_text("The notice period is ninety days.", encoding="utf-8")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    controller, view, pump_until = make(refuse_unreadable=True)
    opened = len(controller.host.opened)
    controller.new_conversation([str(good), str(bad)])
    pump_until(lambda: not controller.reading and not controller.preparing)
    assert controller.host.opened[opened:] == []
    assert view.cards[f"loading:{bad}"].error == (
        "photo.pdf is a damaged image (or a kind Folio cannot read)."
    )


def test_an_encrypted_file_whose_password_is_declined_keeps_a_card_saying_so(
    make, tmp_path: Path
) -> None:
    from tests.fixtures.pdf_factory import encrypt, make_pdf

    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypt(make_pdf(["The rent is 900 euros."]), "secret"))
    controller, view, pump_until = make(view=StrictView(passwords=[None]))
    controller.new_conversation([str(locked)])
    pump_until(lambda: not controller.reading and not controller.preparing)
    card = view.cards[f"loading:{locked}"]
    assert (card.state, card.name) == (DocState.ERROR, "locked.pdf")
    assert card.error == "locked.pdf is password-protected. Enter its password to open it."


def test_deleting_a_conversation_stops_its_answer_only(make) -> None:
    controller, view, pump_until = make(FakeHost(delay_s=0.02))
    first = controller.conversation_id
    controller.send("First question")
    controller.new_conversation()
    second = controller.conversation_id
    controller.send("Second question")
    pump_until(lambda: bool(view.streamed))
    controller.delete_conversation(first)
    pump_until(lambda: not controller.answering, 20)
    assert controller.store.conversation(first) is None
    saved = controller.store.messages(second)[-1]
    assert saved.finish_reason == "stop"
    assert saved.content == "Answer to: Second question " + "more words " * 30
