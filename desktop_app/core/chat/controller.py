"""The answer lifecycle, Qt-free: conversation → request → stream → persist → finish/cancel.

The window, the CLI and (next) the local API are views of this one controller. It owns
the bookkeeping that used to live in the window and broke under ordinary clicks: which
request answers which conversation and message row, which answers are still in flight
(running or queued), when a conversation's session is (re)opened, and how an answer's text
is saved as it grows. A view only issues commands (`send`, `stop`, `open_conversation`…) and
renders what it is told through `ConversationView`.

Threads: engine events arrive on the engine thread and are posted through a `Dispatcher`
to the controller's owner thread, so all state here is touched by one thread only. The
engine queue runs the model; the reader queue runs document extraction (each file in a
child process), so a file dropped while an answer streams is read at once, beside it.

Rules a user relies on:
- An answer streams into its own conversation whatever the user opens meanwhile; only
  Stop, deleting that conversation or Quit end it. Coming back shows it live.
- The question is saved before the model starts and the answer at least once a second, so
  a crash loses little; an answer that never ended has no finish reason and shows as
  interrupted, with Continue.
- A conversation's session is reopened from finished turns only: while one of its answers
  is in flight, the reopen waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app import settings as settings_mod
from desktop_app.core.chat.attachments import Attachments
from desktop_app.core.chat.dispatch import Dispatcher
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
from desktop_app.core.chat.session_host import Opened, SessionHost
from desktop_app.core.chat.view import ConversationView, ShownMessage
from desktop_app.core.documents import isolated
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.history.store import MessageRow, Store
from desktop_app.core.llm.events import Done
from desktop_app.settings import Settings

#: The growing answer is written to the database at least this often.
SAVE_INTERVAL_S = 1.0
#: How long Quit waits for the engine job in flight (a decode stops within about a second).
SHUTDOWN_TIMEOUT_S = 5.0


@dataclass
class _Answer:
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


class ChatController:
    def __init__(
        self,
        store: Store,
        host: SessionHost,
        view: ConversationView,
        dispatcher: Dispatcher,
        *,
        engine: EngineQueue | None = None,
        reader: EngineQueue | None = None,
        library: DocumentLibrary | None = None,
        refuse_unreadable: bool = False,
    ) -> None:
        """`refuse_unreadable` (the terminal): a conversation with a file that could not be
        read never opens its session, so the run ends with the refusal instead of loading a
        model of gigabytes for an answer nobody will get. The window opens the session with
        what could be read, and the unreadable file's card says why it was left out."""
        self.store = store
        self.host = host
        self.view = view
        self._dispatcher = dispatcher
        self.engine = engine or EngineQueue("folio-engine")
        self.conversation_id: int | None = None
        self.thinking = host.settings.thinking
        self._answers: dict[int, _Answer] = {}
        self._prepare_when_done = False
        self._refuse_unreadable = refuse_unreadable
        self._open_request: int | None = None
        self._warm_request: int | None = None
        #: The one owner of documents: reading, the cache, passwords, the page renderer.
        self.library = library or DocumentLibrary(
            host.settings.max_document_bytes, host.settings.ocr_languages
        )
        self.documents = Attachments(
            store, self.library, view, reader or EngineQueue("folio-reader"), self._sink,
            lambda: self.conversation_id, self._documents_settled,
        )  # fmt: skip
        self._closing = False

    # ------------------------------------------------------------------ state
    @property
    def answering(self) -> bool:
        """Whether any answer is in flight, in any conversation."""
        return bool(self._answers)

    @property
    def reading(self) -> bool:
        """Whether a document is being extracted."""
        return self.documents.reading()

    @property
    def preparing(self) -> bool:
        """Whether the session is being opened or the documents pre-read."""
        return self._open_request is not None or self._warm_request is not None

    def busy_here(self) -> bool:
        """Whether the open conversation has an answer in flight (running or queued)."""
        return any(a.conversation_id == self.conversation_id for a in self._answers.values())

    # ---------------------------------------------------------- conversations
    def restore(self) -> None:
        """Open the conversation the user had open, else the newest, else a new one."""
        saved = self.store.app_state("open_conversation")
        rows = self.store.list_conversations()
        target = next((r.id for r in rows if saved and str(r.id) == saved), None)
        if target is None:
            target = rows[0].id if rows else self.store.create_conversation().id
        self.view.conversations_changed()
        self.open_conversation(target)

    def new_conversation(self, paths: Sequence[str] = (), password: str | None = None) -> None:
        """Open a new conversation, with `paths` attached once read (its session opens
        when they are, sized for them: one model load, not one now and one later)."""
        cid = self.store.create_conversation().id
        self.documents.read(cid, paths, password)
        self.open_conversation(cid)
        self.view.conversations_changed()

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        if title.strip():
            self.store.rename_conversation(conversation_id, title.strip())
            self.view.conversations_changed()

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete it and stop its answers; the newest remaining one opens (or a new one)."""
        for rid, state in list(self._answers.items()):
            if state.conversation_id == conversation_id:
                self._stop(rid)
        self.store.delete_conversation(conversation_id)
        if conversation_id == self.conversation_id or self.conversation_id is None:
            rows = self.store.list_conversations()
            self.open_conversation(rows[0].id if rows else self.store.create_conversation().id)
        self.view.conversations_changed()

    def open_files(self, paths: Sequence[str]) -> None:
        """Documents Folio was asked to open (command line, a second start, the OS): each
        such request is its own task, so it gets a new chat unless the open one is blank
        (a double-clicked PDF must not leave an empty "New chat" behind)."""
        if paths and self.is_blank(self.conversation_id):
            self.add_files(paths)
        elif paths:
            self.new_conversation(paths)

    def is_blank(self, conversation_id: int | None) -> bool:
        """No messages, documents or draft: nothing would be lost or mixed by reusing it."""
        return conversation_id is not None and not (
            self.store.messages(conversation_id)
            or self.store.documents(conversation_id)
            or self.store.draft(conversation_id).strip()
        )

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation at once; its session is prepared on the engine thread.
        An answer streaming in another conversation goes on; only its pre-read stops."""
        self.engine.cancel(self._warm_request)
        self.view.clear_progress()  # progress shown belongs to the chat being left
        self.conversation_id = conversation_id
        self.store.set_app_state("open_conversation", str(conversation_id))
        self._show_chat()
        self.view.show_draft(self.store.draft(conversation_id))
        self.view.set_busy(self.busy_here())
        self.view.show_cards(self.documents.cards(conversation_id))
        self._prepare()

    def save_draft(self, text: str) -> None:
        if self.conversation_id is not None:
            self.store.set_draft(self.conversation_id, text)

    def _show_chat(self) -> None:
        """Render the conversation's messages; an answer of it still in flight streams on."""
        cid = self.conversation_id or 0
        live = next((a for a in self._answers.values() if a.conversation_id == cid), None)
        # Every answer that ends gets a finish reason; one without it was cut short by a
        # crash or kill (its text saved once a second) and must not pass for a finished one.
        self.view.show_messages([
            ShownMessage(m.role, m.content, m.reasoning, m.stats,
                         m.finish_reason or ("interrupted" if m.role == "assistant" else None))
            for m in self.store.messages(cid)
            if live is None or m.id != live.message_id
        ])  # fmt: skip
        if live is not None:
            self.view.begin_answer()
            if live.citations is not None:
                self.view.mark_citations(live.citations)
            self.view.append_answer(*live.text())

    def _prepare(self) -> None:
        """(Re)open the session for the open conversation, then pre-read its documents.

        While an answer of this conversation is in flight, the reopen waits for it to end:
        the session must be rebuilt from the finished turn, not the part saved so far.
        """
        if self._closing:  # results still arriving during shutdown start nothing new
            return
        cid = self.conversation_id
        assert cid is not None
        if self.busy_here() or self.documents.reading(cid):
            self._prepare_when_done = True  # after the answer, or the documents being read
            return
        self._prepare_when_done = False
        attached = [(d.path, d.sha256) for d in self.store.documents(cid)]
        msgs = self.store.messages(cid)
        turns = [(u.content, a.content) for u, a in zip(msgs[::2], msgs[1::2], strict=False)
                 if u.role == "user" and a.role == "assistant"]  # fmt: skip
        host, library = self.host, self.library

        def open_session(cancel: threading.Event) -> Opened | None:
            try:  # a file read again (not cached) is parsed in a child that Quit stops
                resolved = library.resolve(attached, cancel)
            except isolated.Cancelled:
                return None
            return host.open(resolved, turns, cancel)

        self._open_request = self.engine.call(open_session, self._sink(self._on_engine))

    # ----------------------------------------------------------------- asking
    def send(self, text: str) -> bool:
        """Ask `text` in the open conversation; False while it already has an answer in
        flight (one answer per conversation: the view shows Stop meanwhile)."""
        cid = self.conversation_id
        if cid is None or self.busy_here() or not text.strip():
            return False
        self.store.add_message(cid, "user", text)
        self.store.set_draft(cid, "")
        self.view.show_draft("")
        self.view.add_user_message(text)
        self._retitle(cid, text)
        host, thinking = self.host, self.thinking
        self._start_answer(lambda c: host.ask(text, thinking, c))
        return True

    def regenerate(self) -> None:
        host, thinking = self.host, self.thinking
        self._replace_last_answer(lambda c: host.regenerate(thinking, c))

    def last_question(self) -> str | None:
        msgs = self.store.messages(self.conversation_id or 0)
        return next((m.content for m in reversed(msgs) if m.role == "user"), None)

    def edit_last(self, text: str) -> None:
        """Replace the last question with `text` and answer it."""
        msgs = self.store.messages(self.conversation_id or 0)
        last_user = next((m for m in reversed(msgs) if m.role == "user"), None)
        if last_user is None or not text.strip() or self.busy_here():
            return
        self.store.update_message(last_user.id, content=text)
        host, thinking = self.host, self.thinking
        self._replace_last_answer(lambda c: host.edit_last(text, thinking, c))

    def continue_answer(self) -> None:
        """Go on with the last answer from where it stopped (stopped, cut off by the answer
        limit, or interrupted by a crash); the new text is appended to it."""
        msgs = self.store.messages(self.conversation_id or 0)
        if self.busy_here() or not msgs or msgs[-1].role != "assistant":
            return
        last = msgs[-1]
        if not last.content:  # nothing to continue from: answer it afresh
            self.regenerate()
            return
        host = self.host
        self._start_answer(lambda c: host.continue_last(c), continuing=last)

    def _replace_last_answer(self, job: Job) -> None:
        if self.busy_here():
            return
        msgs = self.store.messages(self.conversation_id or 0)
        if msgs and msgs[-1].role == "assistant":
            self.store.delete_message(msgs[-1].id)
        self._show_chat()
        self._start_answer(job)

    def _start_answer(self, job: Job, continuing: MessageRow | None = None) -> None:
        cid = self.conversation_id
        assert cid is not None
        if continuing is None:
            row_id = self.store.add_message(cid, "assistant", "").id
            state = _Answer(cid, row_id)
        else:
            row_id = continuing.id
            state = _Answer(cid, row_id, (continuing.content, continuing.reasoning or ""))
            self.store.reopen_message(row_id)
        rid = self.engine.submit(job, self._sink(self._on_engine))
        self._answers[rid] = state
        if continuing is None:
            self.view.begin_answer()
        else:
            self._show_chat()  # the answer shows as live, its old text first
        self.view.set_busy(True)

    def stop(self) -> None:
        """Stop the open conversation's answer, running or still queued (nothing else)."""
        for rid, state in list(self._answers.items()):
            if state.conversation_id == self.conversation_id:
                self._stop(rid)

    def _stop(self, rid: int) -> None:
        """A queued answer (e.g. behind a long pre-read) ends here and now: the queue would
        report it only when its turn came, minutes later perhaps."""
        self.engine.cancel(rid)
        if self.engine.current() != rid:
            self._on_cancelled(rid)

    def _retitle(self, cid: int, text: str) -> None:
        row = self.store.conversation(cid)
        if row is not None and row.title == "New chat":
            self.store.rename_conversation(cid, text.strip().splitlines()[0][:60])
            self.view.conversations_changed()

    # ------------------------------------------------------------- documents
    def add_files(self, paths: Sequence[str], password: str | None = None) -> None:
        """Read each file beside the answers and attach it to the conversation open now."""
        self.documents.read(self.conversation_id, paths, password)

    def remove_document(self, key: str) -> None:
        self.documents.remove(self.conversation_id or 0, key)
        self._prepare()

    def cancel_reading(self) -> None:
        """The progress row's Cancel: stop extracting and pre-reading documents."""
        self.documents.cancel()
        self.engine.cancel(self._warm_request)

    def document_paths(self) -> list[str]:
        return [d.path for d in self.store.documents(self.conversation_id or 0)]

    def _documents_settled(self, cid: int | None, attached: bool) -> None:
        """The last read of `cid` ended: its session opens with what was attached (or, if
        it waited for the reads, without what could not be read)."""
        if self._refuse_unreadable and self.documents.refused(cid):
            self._prepare_when_done = False
            return
        if cid == self.conversation_id and (attached or self._prepare_when_done):
            self._prepare()

    # ----------------------------------------------------------------- models
    def use_model(self, path: str) -> None:
        """Switch models at runtime: the settings are saved, the old model is unloaded and
        the new one loads on the engine thread meanwhile."""
        new = settings_mod.load().replace(model_path=path)
        settings_mod.save(new)
        self.view.model_status(f"Loading {Path(path).name}…")
        self.reconfigure(Path(path), new)

    def reconfigure(self, model_path: Path, settings: Settings) -> None:
        """New settings (or model): applied on the engine thread, then the session reopens
        (the system prompt or sampling may have changed too)."""
        host = self.host
        self.library.configure(settings.max_document_bytes, settings.ocr_languages)
        self.engine.call(
            lambda c: host.reconfigure(model_path, settings), self._sink(self._on_engine)
        )
        self.thinking = settings.thinking
        self._prepare()

    # ---------------------------------------------------------------- closing
    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Stop cleanly: the answer in flight ends within about a second (a decode is
        aborted between graph nodes) and is saved; the model is freed on the engine
        thread. False if the engine did not stop in time: then nothing is freed under a
        decode that may still run (the process exit reclaims it)."""
        self._closing = True
        self.documents.reader.shutdown(timeout_s)  # a file being read: its child is killed
        stopped = self.engine.shutdown(timeout_s, last=self.host.close)
        self.library.close()  # the page renderer's child
        # The last deltas and `Finished` were posted on the way out: handle them now, so the
        # partial answer is saved whole before the process ends.
        self._dispatcher.drain()
        self.save_partial()
        return stopped

    def save_partial(self) -> None:
        """Save every growing answer now."""
        for state in self._answers.values():
            self._save(state)

    def _save(self, state: _Answer) -> None:
        answer, reasoning = state.text()
        self.store.update_message(state.message_id, content=answer, reasoning=reasoning)
        state.saved_at = time.monotonic()

    # ----------------------------------------------------------- engine events
    def _sink(self, handler: Callable[[RequestEvent], None]) -> Callable[[RequestEvent], None]:
        """A request's sink: the event is handled on the owner thread, never the engine's."""
        post = self._dispatcher.post
        return lambda event: post(lambda: handler(event))

    def _on_engine(self, event: RequestEvent) -> None:
        rid = event.request_id
        if isinstance(event, Delta):
            self._on_delta(rid, event.answer, event.reasoning, event.citations)
        elif isinstance(event, Progress):
            here = (
                rid in self._answers and self._answers[rid].conversation_id == self.conversation_id
            )
            if rid == self._warm_request or here:
                label = "Reading documents" if rid == self._warm_request else "Reading"
                self.view.show_progress(event.progress, label, "tokens")
        elif isinstance(event, Finished):
            self._on_finished(rid, event.value)
        elif isinstance(event, Failed):
            self._on_failed(rid, event.message)
        elif isinstance(event, Cancelled):
            self._on_cancelled(rid)

    def _on_delta(self, rid: int, answer: str, reasoning: str, citations: dict | None) -> None:
        state = self._answers.get(rid)
        if state is None:
            return
        here = state.conversation_id == self.conversation_id
        if here and not state.answer:
            self.view.clear_progress()  # the prompt is read: the answer itself shows now
        state.answer.append(answer)
        state.reasoning.append(reasoning)
        if citations is not None:
            state.citations = citations
        if here:
            if citations is not None:
                self.view.mark_citations(citations)
            self.view.append_answer(answer, reasoning)
        if time.monotonic() - state.saved_at >= SAVE_INTERVAL_S:
            self._save(state)

    def _on_finished(self, rid: int, value: object) -> None:
        if rid == self._open_request:
            self._open_request = None
            if isinstance(value, Opened) and not self._closing:
                self._on_opened(value)
            return
        if rid == self._warm_request:
            self._warm_request = None
            self.view.clear_progress()
        state = self._answers.pop(rid, None)
        if state is None or not isinstance(value, Done):
            return
        answer, reasoning = state.prefix
        stats = value.stats.as_dict()
        self.store.update_message(state.message_id, content=answer + value.answer,
                                  reasoning=reasoning + value.reasoning, stats=stats,
                                  finish_reason=value.finish_reason)  # fmt: skip
        if state.conversation_id == self.conversation_id:
            self.view.clear_progress()
            self.view.end_answer(stats, value.finish_reason)
            self.view.answer_stats(stats, value.stats.prompt_tokens + value.stats.decode_tokens)
        self._answer_ended(state)

    def _on_opened(self, opened: Opened) -> None:
        self.view.session_opened(opened)
        cid = self.conversation_id
        self.view.show_cards(self.documents.cards(cid or 0, opened))
        for sha256, path in opened.needs_password.items():
            self.documents.ask_password(cid, path, opened.unavailable[sha256])
        if opened.document_sizes and opened.fit == "whole":
            host = self.host
            self._warm_request = self.engine.submit(
                lambda c: host.warm_up(c), self._sink(self._on_engine)
            )

    def _answer_ended(self, state: _Answer) -> None:
        """After an answer's terminal event: the composer, and a reopen that waited."""
        self.view.set_busy(self.busy_here())
        if state.conversation_id == self.conversation_id and self._prepare_when_done:
            self._prepare()

    def _on_cancelled(self, rid: int) -> None:
        """A job cancelled before it ran: end whatever waited for it, as if it had stopped."""
        if rid in self._answers:
            state = self._answers.pop(rid)
            self.store.update_message(state.message_id, finish_reason="cancelled")
            if state.conversation_id == self.conversation_id:
                self.view.end_answer(None, "cancelled")
            self._answer_ended(state)
        elif rid == self._open_request:
            self._open_request = None
        elif rid == self._warm_request:
            self._warm_request = None

    def _on_failed(self, rid: int, message: str) -> None:
        state = self._answers.pop(rid, None)
        if state is not None:
            self.store.update_message(state.message_id, content=state.text()[0],
                                      finish_reason="error")  # fmt: skip
            if state.conversation_id == self.conversation_id:
                self.view.clear_progress()
                self.view.end_answer(None, "error")
            self._answer_ended(state)
        if rid == self._open_request:
            self._open_request = None
            self.view.model_status(f"Model not ready: {message}")
        if rid == self._warm_request:
            self._warm_request = None
            self.view.clear_progress()
        self.view.show_error(message)
