"""The answers in flight: which request answers which conversation and message row, the
text so far, and how it is saved as it grows.

An answer streams into its own conversation whatever the user opens meanwhile; only Stop,
deleting that conversation or Quit end it. The question is saved before the model starts and
the answer at least once a second, so a crash loses little; an answer that never ended has no
finish reason and shows as interrupted, with Continue. Every answer ends with exactly one of
`Finished`, `Failed` or `Cancelled`, and `ended` is told of it once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from desktop_app.core.chat.chat_context import ChatContext
from desktop_app.core.chat.engine_queue import (
    Cancelled,
    Delta,
    EngineQueue,
    Failed,
    Finished,
    Job,
    Progress,
    RequestEvent,
)
from desktop_app.core.history.store import MessageRow
from desktop_app.core.llm.events import Done

#: The growing answer is written to the database at least this often.
SAVE_INTERVAL_S = 1.0


@dataclass
class Answer:
    """An answer in flight: where it is saved and what has arrived so far."""

    conversation_id: int
    message_id: int
    #: (answer, reasoning) the message already had: Continue appends to it.
    prefix: tuple[str, str] = ("", "")
    answer: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    saved_at: float = field(default_factory=time.monotonic)
    #: The citations checked so far while it streams (shown again on coming back to it).
    citations: dict | None = None

    def text(self) -> tuple[str, str]:
        """Everything the message holds so far."""
        return self.prefix[0] + "".join(self.answer), self.prefix[1] + "".join(self.reasoning)


class Answers:
    def __init__(
        self, chat: ChatContext, engine: EngineQueue, ended: Callable[[int], None]
    ) -> None:
        """`ended(conversation_id)` is called once after each answer's last event."""
        self._chat = chat
        self._engine = engine
        self._ended = ended
        self._running: dict[int, Answer] = {}

    def __bool__(self) -> bool:
        """Whether any answer is in flight, in any conversation."""
        return bool(self._running)

    def busy(self, conversation_id: int | None) -> bool:
        """Whether `conversation_id` has an answer in flight (running or queued)."""
        return self.live(conversation_id) is not None

    def live(self, conversation_id: int | None) -> Answer | None:
        return next(
            (a for a in self._running.values() if a.conversation_id == conversation_id), None
        )

    def start(self, conversation_id: int, job: Job, continuing: MessageRow | None) -> None:
        """Queue `job`, saving into a new message row or appending to `continuing`."""
        if continuing is None:
            row_id = self._chat.store.add_message(conversation_id, "assistant", "").id
            state = Answer(conversation_id, row_id)
        else:
            prefix = (continuing.content, continuing.reasoning or "")
            state = Answer(conversation_id, continuing.id, prefix)
            self._chat.store.reopen_message(continuing.id)
        post = self._chat.post
        rid = self._engine.submit(job, lambda e: post(lambda: self._on_event(e)))
        self._running[rid] = state

    def stop(self, conversation_id: int) -> None:
        """Stop the conversation's answer, running or still queued. A queued one (behind a
        long pre-read, say) ends here and now: the queue would report it only when its turn
        came, minutes later perhaps."""
        for rid, state in list(self._running.items()):
            if state.conversation_id == conversation_id:
                self._engine.cancel(rid)
                if self._engine.current() != rid:
                    self._cancelled(rid)

    def save_all(self) -> None:
        """Save every growing answer now (Quit, a crash handler)."""
        for state in self._running.values():
            self._save(state)

    def _save(self, state: Answer) -> None:
        answer, reasoning = state.text()
        self._chat.store.update_message(state.message_id, content=answer, reasoning=reasoning)
        state.saved_at = time.monotonic()

    # ------------------------------------------------------------- the sink
    def _on_event(self, event: RequestEvent) -> None:
        """The answers' sink: only answer requests' events arrive here."""
        rid = event.request_id
        state = self._running.get(rid)
        if state is None:  # already ended (stopped while queued)
            return
        here = state.conversation_id == self._chat.open_conversation()
        if isinstance(event, Delta):
            self._delta(state, here, event)
        elif isinstance(event, Progress) and here:
            self._chat.view.show_progress(event.progress, "Reading", "tokens")
        elif isinstance(event, Finished):
            self._finished(rid, event.value)
        elif isinstance(event, Failed):
            self._failed(rid, event.message)
        elif isinstance(event, Cancelled):
            self._cancelled(rid)

    def _delta(self, state: Answer, here: bool, event: Delta) -> None:
        if here and not state.answer:
            self._chat.view.clear_progress()  # the prompt is read: the answer itself shows now
        state.answer.append(event.answer)
        state.reasoning.append(event.reasoning)
        if event.citations is not None:
            state.citations = event.citations
        if here:
            if event.citations is not None:
                self._chat.view.mark_citations(event.citations)
            self._chat.view.append_answer(event.answer, event.reasoning)
        if time.monotonic() - state.saved_at >= SAVE_INTERVAL_S:
            self._save(state)

    def _finished(self, rid: int, value: object) -> None:
        state = self._running.pop(rid)
        if not isinstance(value, Done):  # a job that yielded no Done: it was stopped
            self._chat.store.update_message(state.message_id, content=state.text()[0],
                                       finish_reason="cancelled")  # fmt: skip
            self._end_here(state, None, "cancelled")
            return
        answer, reasoning = state.prefix
        stats = value.stats.as_dict()
        self._chat.store.update_message(state.message_id, content=answer + value.answer,
                                   reasoning=reasoning + value.reasoning, stats=stats,
                                   finish_reason=value.finish_reason)  # fmt: skip
        if state.conversation_id == self._chat.open_conversation():
            used = value.stats.prompt_tokens + value.stats.decode_tokens
            self._chat.view.clear_progress()
            self._chat.view.end_answer(stats, value.finish_reason)
            self._chat.view.answer_stats(stats, used)
        self._ended(state.conversation_id)

    def _cancelled(self, rid: int) -> None:
        """Stopped before it ran: it ends as if it had stopped at its first word."""
        state = self._running.pop(rid)
        self._chat.store.update_message(state.message_id, finish_reason="cancelled")
        self._end_here(state, None, "cancelled")

    def _failed(self, rid: int, message: str) -> None:
        state = self._running.pop(rid)
        self._chat.store.update_message(state.message_id, content=state.text()[0],
                                   finish_reason="error")  # fmt: skip
        self._end_here(state, None, "error")
        self._chat.view.show_error(message)

    def _end_here(self, state: Answer, stats: dict | None, finish_reason: str) -> None:
        if state.conversation_id == self._chat.open_conversation():
            self._chat.view.clear_progress()
            self._chat.view.end_answer(stats, finish_reason)
        self._ended(state.conversation_id)
