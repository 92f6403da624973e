"""The answer lifecycle, Qt-free: conversation → request → stream → persist → finish/cancel.

The window, the CLI and the local API are views of this one controller. A view only issues
commands (`send`, `stop`, `open_conversation`…) and renders what it is told through
`ConversationView`; questions to the view (a password) come back as commands too.

The work is split by responsibility, each part with its own engine sink:
- `answers.py`: the answers in flight (which request answers which conversation and message
  row, saving as they grow);
- `session_control.py` + `session_state.py`: opening the open conversation's session and
  pre-reading its documents, as one explicit state with named transitions;
- `attachments.py`: reading files beside the answers, and the cards;
- this module: conversations, and the commands that tie the three together.

Threads: engine events arrive on the engine thread and are posted through a `Dispatcher`
to the controller's owner thread, so all state here is touched by one thread only. The
engine queue runs the model; the reader queue runs document extraction (each file in a
child process), so a file dropped while an answer streams is read at once, beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from desktop_app import settings as settings_mod
from desktop_app.core.chat.answers import Answers
from desktop_app.core.chat.attachments import Attachments
from desktop_app.core.chat.chat_context import ChatContext
from desktop_app.core.chat.dispatch import Dispatcher
from desktop_app.core.chat.engine_queue import EngineQueue, Job
from desktop_app.core.chat.session_control import SessionControl
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.chat.session_state import SessionState
from desktop_app.core.chat.view import ConversationView, ShownMessage
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.history.store import MessageRow, Store
from desktop_app.settings import Settings

#: How long Quit waits for the engine job in flight (a decode stops within about a second).
SHUTDOWN_TIMEOUT_S = 5.0
#: The title of a conversation nobody has asked anything in yet.
UNTITLED = "New chat"


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
        self._refuse_unreadable = refuse_unreadable
        #: The one owner of documents: reading, the cache, passwords, the page renderer.
        self.library = library or DocumentLibrary(
            host.settings.max_document_bytes, host.settings.ocr_languages
        )
        chat = ChatContext(store, view, dispatcher.post, lambda: self.conversation_id)
        self.answers = Answers(chat, self.engine, self._answer_ended)
        self.documents = Attachments(
            chat, self.library, reader or EngineQueue("folio-reader"), self._documents_settled
        )
        self.session = SessionControl(chat, host, self.engine, self.documents, self.answers)

    # ------------------------------------------------------------------ state
    @property
    def answering(self) -> bool:
        """Whether any answer is in flight, in any conversation."""
        return bool(self.answers)

    @property
    def reading(self) -> bool:
        """Whether a document is being extracted (or waits for its password)."""
        return self.documents.reading()

    @property
    def preparing(self) -> bool:
        """Whether the session is being opened or the documents pre-read."""
        return self.session.life.busy

    def busy_here(self) -> bool:
        """Whether the open conversation has an answer in flight (running or queued)."""
        return self.answers.busy(self.conversation_id)

    # ---------------------------------------------------------- conversations
    def restore(self) -> None:
        """Open the conversation the user had open, else the newest, else a new one."""
        saved = self.store.app_state("open_conversation")
        rows = self.store.list_conversations()
        target = next((r.id for r in rows if saved and str(r.id) == saved), None)
        if target is None:
            target = rows[0].id if rows else self.store.create_conversation(UNTITLED).id
        self.open_conversation(target)
        self.view.conversations_changed()  # after opening: the list marks the open one

    def new_conversation(self, paths: Sequence[str] = (), password: str | None = None) -> None:
        """Open a new conversation, with `paths` attached once read (its session opens
        when they are, sized for them: one model load, not one now and one later). A blank
        conversation is reused, so "New chat" pressed twice leaves one, not two."""
        blank = self._blank_conversation()
        cid = blank if blank is not None else self.store.create_conversation(UNTITLED).id
        self.documents.read(cid, paths, password)
        if cid != self.conversation_id:
            self.open_conversation(cid)
        self.view.conversations_changed()

    def _blank_conversation(self) -> int | None:
        """An untitled blank conversation to reuse: the open one, else the newest (one the
        user renamed is kept: they made it for something)."""
        rows = {r.id: r for r in self.store.list_conversations()}
        ids = [self.conversation_id, *rows]
        return next(
            (i for i in ids if i in rows and rows[i].title == UNTITLED and self.is_blank(i)),
            None,
        )

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        if title.strip():
            self.store.rename_conversation(conversation_id, title.strip())
            self.view.conversations_changed()

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete it and stop its answers; the newest remaining one opens (or a new one)."""
        self.answers.stop(conversation_id)
        self.store.delete_conversation(conversation_id)
        if conversation_id == self.conversation_id or self.conversation_id is None:
            rows = self.store.list_conversations()
            self.open_conversation(
                rows[0].id if rows else self.store.create_conversation(UNTITLED).id
            )
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
        """No messages, documents, files being read or draft: nothing would be lost or
        mixed by reusing it."""
        return conversation_id is not None and not (
            self.store.messages(conversation_id)
            or self.store.documents(conversation_id)
            or self.documents.reading(conversation_id)
            or self.store.draft(conversation_id).strip()
        )

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation at once; its session is prepared on the engine thread.
        An answer streaming in another conversation goes on; only its pre-read stops."""
        self.session.stop_warming()  # its documents, not these, are worth pre-reading
        self.view.clear_progress()  # progress shown belongs to the chat being left
        self.conversation_id = conversation_id
        self.store.set_app_state("open_conversation", str(conversation_id))
        self._show_chat()
        self.view.show_draft(self.store.draft(conversation_id))
        self.view.set_busy(self.busy_here())
        self.view.show_cards(self.session.cards_of(conversation_id))
        self.session.prepare()

    def save_draft(self, text: str) -> None:
        if self.conversation_id is not None:
            self.store.set_draft(self.conversation_id, text)

    def _show_chat(self) -> None:
        """Render the conversation's messages; an answer of it still in flight streams on."""
        live = self.answers.live(self.conversation_id)
        # Every answer that ends gets a finish reason; one without it was cut short by a
        # crash or kill (its text saved once a second) and must not pass for a finished one.
        self.view.show_messages([
            ShownMessage(m.role, m.content, m.reasoning, m.stats,
                         m.finish_reason or ("interrupted" if m.role == "assistant" else None))
            for m in self.store.messages(self.conversation_id or 0)
            if live is None or m.id != live.message_id
        ])  # fmt: skip
        if live is not None:
            self.view.begin_answer()
            if live.citations is not None:
                self.view.mark_citations(live.citations)
            self.view.append_answer(*live.text())

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
        if self.session.state is SessionState.IDLE:  # its open was cancelled: open it first
            self.session.prepare()
        self.answers.start(cid, job, continuing)
        if continuing is None:
            self.view.begin_answer()
        else:
            self._show_chat()  # the answer shows as live, its old text first
        self.view.set_busy(True)

    def stop(self) -> None:
        """Stop the open conversation's answer, running or still queued (nothing else)."""
        self.answers.stop(self.conversation_id)

    def _retitle(self, cid: int, text: str) -> None:
        row = self.store.conversation(cid)
        if row is not None and row.title == UNTITLED:
            self.store.rename_conversation(cid, text.strip().splitlines()[0][:60])
            self.view.conversations_changed()

    def _answer_ended(self, conversation_id: int) -> None:
        """After an answer's last event: the composer, and a reopen that waited for it."""
        self.view.set_busy(self.busy_here())
        waiting = self.session.state is SessionState.WAITING
        if conversation_id == self.conversation_id and waiting:
            self.session.prepare()

    # ------------------------------------------------------------- documents
    def add_files(self, paths: Sequence[str], password: str | None = None) -> None:
        """Read each file beside the answers and attach it to the conversation open now."""
        self.documents.read(self.conversation_id, paths, password)

    def remove_document(self, key: str) -> None:
        self.documents.remove(self.conversation_id or 0, key)
        self.session.prepare()

    def cancel_reading(self) -> None:
        """The progress row's Cancel: stop extracting and pre-reading documents."""
        self.documents.cancel()
        self.session.stop_preparing()

    def document_paths(self) -> list[str]:
        return [d.path for d in self.store.documents(self.conversation_id or 0)]

    def _documents_settled(self, cid: int | None, attached: bool) -> None:
        """The last read of `cid` ended: its session opens with what was attached (or, if
        it waited for the reads, without what could not be read)."""
        waiting = self.session.state is SessionState.WAITING
        if self._refuse_unreadable and self.documents.refused(cid):
            return
        if cid == self.conversation_id and (attached or waiting):
            self.session.prepare()

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
        self.thinking = settings.thinking
        self.session.reconfigure(lambda _c: host.reconfigure(model_path, settings))

    # ---------------------------------------------------------------- closing
    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Stop cleanly: the answer in flight ends within about a second (a decode is
        aborted between graph nodes) and is saved; the model is freed on the engine
        thread. False if the engine did not stop in time: then nothing is freed under a
        decode that may still run (the process exit reclaims it)."""
        self.session.close()
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
        self.answers.save_all()
