"""The controller's explicit session state, the view's questions as commands, and what a
user sees through switches: each test drives the Qt-free controller with a strict view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from desktop_app.core.chat.cards import DocState
from desktop_app.core.chat.session_state import (
    IllegalTransition,
    SessionLifecycle,
    SessionState,
)
from desktop_app.core.chat.view import ConversationView
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.strict_view import StrictView


def _doc(tmp_path: Path, name: str = "notes.txt") -> Path:
    doc = tmp_path / name
    doc.write_text("The notice period is ninety days.", encoding="utf-8")
    return doc


def _pump_for(pump_until, seconds: float) -> None:
    end = time.monotonic() + seconds
    pump_until(lambda: time.monotonic() >= end)


def test_the_strict_view_has_exactly_the_protocols_methods() -> None:
    def methods(cls: type) -> set[str]:
        return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}

    assert methods(StrictView) - {"named"} == methods(ConversationView)


def test_the_window_and_the_terminal_implement_the_whole_view() -> None:
    from desktop_app.cli_chat import TerminalView
    from desktop_app.ui.main_window import MainWindow

    for name in (n for n in vars(ConversationView) if not n.startswith("_")):
        assert callable(getattr(MainWindow, name, None)), f"window lacks {name}"
        assert callable(getattr(TerminalView, name, None)), f"terminal lacks {name}"


def test_transitions_start_only_from_their_states() -> None:
    life = SessionLifecycle()
    with pytest.raises(IllegalTransition, match="opened: not from idle"):
        life.opened(1, object())  # type: ignore[arg-type]
    life.open(7)
    assert (life.state, life.request, life.owns(7), life.owns(8)) == (
        SessionState.OPENING, 7, True, False,
    )  # fmt: skip
    with pytest.raises(IllegalTransition, match="warm: not from opening"):
        life.warm(8)
    life.wait()  # a switch to a busy chat: the open in flight is no longer the session's
    assert (life.state, life.owns(7)) == (SessionState.WAITING, False)
    life.close()
    with pytest.raises(IllegalTransition, match="open: not from closing"):
        life.open(9)


def test_cards_stay_ready_through_a_switch_and_back_mid_answer(make, tmp_path: Path) -> None:
    """Seen in the window: after switching chats mid-answer and coming back, the card said
    "3 pages · opening…" for the whole answer (its reopen waits for the answer)."""
    controller, view, pump_until = make(FakeHost(delay_s=0.03))
    controller.add_files([str(_doc(tmp_path))])
    pump_until(lambda: not controller.reading and not controller.preparing)
    first = controller.conversation_id
    assert [(c.name, c.state) for c in view.cards.values()] == [("notes.txt", DocState.READY)]
    controller.send("First question")
    pump_until(lambda: bool(view.streamed))
    controller.new_conversation()
    assert view.cards == {}
    controller.open_conversation(first)
    assert [(c.name, c.state) for c in view.cards.values()] == [("notes.txt", DocState.READY)]
    assert controller.session.state is SessionState.WAITING and controller.answering
    pump_until(lambda: not controller.answering and not controller.preparing)
    assert [(c.name, c.state) for c in view.cards.values()] == [("notes.txt", DocState.READY)]
    assert controller.session.state is SessionState.READY
    assert view.named("end_answer")[-1][1] == "stop"


def test_new_chat_twice_leaves_one_blank_chat(make) -> None:
    controller, view, pump_until = make()
    [blank] = controller.store.list_conversations()
    controller.new_conversation()
    controller.new_conversation()
    assert [r.id for r in controller.store.list_conversations()] == [blank.id]
    controller.send("What is the notice period?")
    pump_until(lambda: not controller.answering)
    controller.new_conversation()
    controller.new_conversation()
    rows = controller.store.list_conversations()
    assert len(rows) == 2 and controller.conversation_id != blank.id
    assert controller.conversation_id in {r.id for r in rows}


def test_a_password_question_waits_for_its_answer_without_blocking(make, tmp_path: Path) -> None:
    """The view answers later, as a command; meanwhile the controller handles other events
    and the session does not open without the file."""
    from tests.fixtures.pdf_factory import encrypt, make_pdf

    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypt(make_pdf(["The rent is 900 euros."]), "secret"))
    controller, view, pump_until = make()
    host = controller.host
    opened = len(host.opened)
    controller.add_files([str(locked)])
    pump_until(lambda: bool(view.pending))
    assert view.named("request_password") == [
        (str(locked), "locked.pdf is password-protected. Enter its password to open it.")
    ]
    _pump_for(pump_until, 0.3)
    assert controller.reading and len(host.opened) == opened  # waits for the answer
    [card] = view.cards.values()  # the file keeps a card meanwhile, saying why it waits
    assert (card.name, card.state, card.verdict) == (
        "locked.pdf", DocState.LOADING, "waiting for its password",
    )  # fmt: skip
    view.pending.pop().answer("secret")
    pump_until(lambda: not controller.reading and not controller.preparing)
    assert host.opened[opened:] == [([str(locked)], [])]  # one open, with the file
    assert [(c.name, c.state) for c in view.cards.values()] == [("locked.pdf", DocState.READY)]


def test_an_open_superseded_by_a_switch_is_not_shown(make, tmp_path: Path) -> None:
    controller, view, pump_until = make(FakeHost(open_delay_s=0.4))
    controller.add_files([str(_doc(tmp_path))])
    pump_until(lambda: not controller.reading and not controller.preparing)
    with_doc = controller.conversation_id
    empty = controller.store.create_conversation("Other").id
    controller.open_conversation(with_doc)  # reopens: 0.4 s in flight…
    controller.open_conversation(empty)  # …when the user goes elsewhere
    shown = len(view.calls)
    pump_until(lambda: not controller.preparing)
    after = view.calls[shown:]
    assert [args[0] for name, args in after if name == "show_cards"] == [[]]
    assert len([1 for name, _ in after if name == "session_opened"]) == 1
    assert view.cards == {}


def test_a_question_after_a_cancelled_open_opens_the_session_first(make, tmp_path) -> None:
    """Cancel while the session opens (a long document being indexed) leaves none, or the
    one without the new document; the next question must open it again, with the document,
    not fail with "the model is not ready" or answer without it."""
    controller, view, pump_until = make()
    host = controller.host
    host.open_delay_s = 5
    doc = _doc(tmp_path)
    controller.add_files([str(doc)])
    pump_until(lambda: len(host.opened) == 2)  # the open with the document runs
    controller.cancel_reading()
    pump_until(lambda: not controller.preparing)
    assert controller.session.state is SessionState.IDLE and not host.ready
    host.open_delay_s = 0
    controller.send("What is the notice period?")
    pump_until(lambda: not controller.answering)
    assert view.named("show_error") == []
    assert view.named("end_answer")[-1][1] == "stop"
    assert host.opened[-1] == ([str(doc)], [])
    assert controller.store.messages(controller.conversation_id)[-1].content.startswith(
        "Answer to: What is the notice period?"
    )
