"""Opening the open conversation's session and pre-reading its documents, as jobs on the
engine queue, driven by the explicit `SessionLifecycle`.

A conversation's session is (re)opened from finished turns and read documents only: while
one of its answers is in flight or one of its files is being read, the reopen waits
(`WAITING`) and the controller calls `prepare` again when that ends. Opens and pre-reads have
sinks of their own, so an event is never sorted by request id among other kinds; an event of
an open or pre-read that was superseded (the user switched chats) is simply not the
lifecycle's and is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from desktop_app.core.chat.answers import Answers
from desktop_app.core.chat.attachments import Attachments
from desktop_app.core.chat.cards import Fit
from desktop_app.core.chat.chat_context import ChatContext
from desktop_app.core.chat.engine_queue import (
    Cancelled,
    EngineQueue,
    Failed,
    Finished,
    Progress,
    RequestEvent,
)
from desktop_app.core.chat.session_host import Opened, SessionHost
from desktop_app.core.chat.session_state import SessionLifecycle, SessionState
from desktop_app.core.documents import isolated


class SessionControl:
    def __init__(
        self,
        chat: ChatContext,
        host: SessionHost,
        engine: EngineQueue,
        documents: Attachments,
        answers: Answers,
    ) -> None:
        self._chat = chat
        self._host = host
        self._engine = engine
        self._documents = documents
        self._answers = answers
        self.life = SessionLifecycle()

    @property
    def state(self) -> SessionState:
        return self.life.state

    def cards_of(self, conversation_id: int) -> list:
        """The conversation's cards, with the sizes and fit its session last had (a card
        must not fall back to "opening…" while its reopen waits for an answer)."""
        return self._documents.cards(conversation_id, self.life.opened_for.get(conversation_id))

    def plan_line(self, conversation_id: int) -> str:
        """How its documents last reached the model, with the numbers ("" before that)."""
        opened = self.life.opened_for.get(conversation_id)
        return opened.context if opened is not None else ""

    def prepare(self) -> None:
        """(Re)open the session for the open conversation, then pre-read its documents."""
        if self.life.closing:  # results still arriving during shutdown start nothing new
            return
        cid = self._chat.open_conversation()
        assert cid is not None
        self.stop_warming()  # pre-reading what will change, or be read again
        if self._answers.busy(cid) or self._documents.reading(cid):
            self.life.wait()
            return
        attached = [(d.path, d.sha256) for d in self._chat.store.documents(cid)]
        msgs = self._chat.store.messages(cid)
        turns = [(u.content, a.content) for u, a in zip(msgs[::2], msgs[1::2], strict=False)
                 if u.role == "user" and a.role == "assistant"]  # fmt: skip
        host, library = self._host, self._documents.library

        def open_session(cancel: threading.Event) -> Opened | None:
            try:  # a file read again (not cached) is parsed in a child that Quit stops
                resolved = library.resolve(attached, cancel)
            except isolated.Cancelled:
                return None
            return host.open(resolved, turns, cancel)

        post = self._chat.post
        sink = lambda e: post(lambda: self._on_open_event(cid, e))  # noqa: E731
        self.life.open(self._engine.call(open_session, sink))

    def stop_preparing(self) -> None:
        """Cancel (the progress row's button, Ctrl+C): the pre-read stops; a model being
        loaded finishes loading (llama.cpp cannot stop a load), a document being indexed
        stops."""
        if self.life.busy:
            self._engine.cancel(self.life.request)

    def stop_warming(self) -> None:
        """The pre-read stops (another conversation opens, or this one reopens); its late
        events are no longer the lifecycle's, so its progress row goes now."""
        if self.life.state is SessionState.WARMING:
            self._engine.cancel(self.life.request)
            self._chat.view.clear_progress()

    def reconfigure(self, call: Callable[[threading.Event], object]) -> None:
        """Apply new settings on the engine thread, then reopen."""
        post = self._chat.post
        self._engine.call(call, lambda e: post(lambda: self._on_reconfigured(e)))
        self.prepare()

    def close(self) -> None:
        self.life.close()

    # ------------------------------------------------------------------ sinks
    def _on_open_event(self, conversation_id: int, event: RequestEvent) -> None:
        if not self.life.owns(event.request_id):
            return  # superseded by a newer open, a switch, or Quit
        if isinstance(event, Finished):
            if isinstance(event.value, Opened):
                self.life.opened(conversation_id, event.value)
                self._on_opened(conversation_id, event.value)
            else:
                self.life.cancelled()  # an index cancelled by Quit or Cancel
        elif isinstance(event, Failed):
            self.life.open_failed()
            self._not_ready(event.message)
        elif isinstance(event, Cancelled):
            self.life.cancelled()

    def _on_opened(self, cid: int, opened: Opened) -> None:
        self._chat.view.session_opened(opened)
        self._chat.view.show_cards(self._documents.cards(cid, opened))
        for sha256, path in opened.needs_password.items():
            self._documents.ask_password(cid, path, opened.unavailable[sha256], refuse=False)
        if opened.document_sizes and opened.fit == Fit.WHOLE:
            host, post = self._host, self._chat.post
            sink = lambda e: post(lambda: self._on_warm_event(e))  # noqa: E731
            self.life.warm(self._engine.submit(lambda c: host.warm_up(c), sink))

    def _on_warm_event(self, event: RequestEvent) -> None:
        if not self.life.owns(event.request_id):
            return
        if isinstance(event, Progress):
            self._chat.view.show_progress(event.progress, "Reading documents", "tokens")
            return
        if isinstance(event, Finished | Failed | Cancelled):
            self.life.warmed()
            self._chat.view.clear_progress()
        if isinstance(event, Failed):
            self._chat.view.show_error(event.message)

    def _on_reconfigured(self, event: RequestEvent) -> None:
        if isinstance(event, Failed):
            self._not_ready(event.message)

    def _not_ready(self, message: str) -> None:
        self._chat.view.model_status(f"Model not ready: {message}")
        self._chat.view.show_error(message)
