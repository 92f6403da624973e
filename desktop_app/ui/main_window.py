"""The main window: conversations on the left, the chat in the middle, documents on the right.

The window owns the `Store` (what the user creates) and an `EngineWorker`
(the one thread that owns the model). Everything slow — loading the model,
reading documents, prefill, answering — is a job on that worker; the window
reacts to its signals. Each answer is tied to the conversation and message
row it belongs to, so switching conversations mid-answer or closing the
window never sends text to the wrong place or loses it: the user message is
saved before the model starts and the answer is saved as it grows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app import settings as settings_mod
from desktop_app.core.history.store import Store
from desktop_app.core.llm.events import Done
from desktop_app.core.models.locator import resolve_model
from desktop_app.errors import FolioError
from desktop_app.ui.chat_markdown import format_stats
from desktop_app.ui.chat_view import ChatView
from desktop_app.ui.citations import CitationLookup
from desktop_app.ui.composer import Composer
from desktop_app.ui.conversation_list import ConversationList
from desktop_app.ui.dialogs.settings_dialog import SettingsDialog, needs_reload
from desktop_app.ui.document_actions import DocumentActions
from desktop_app.ui.documents_panel import DocumentsPanel
from desktop_app.ui.download_manager import DownloadManager
from desktop_app.ui.engine_worker import EngineWorker
from desktop_app.ui.model_actions import ModelActions
from desktop_app.ui.session_host import Opened, SessionHost
from desktop_app.ui.theme import apply_theme

#: The growing answer is written to the database at least this often.
SAVE_INTERVAL_MS = 1000
#: How long Quit waits for the engine job in flight (a decode stops within about a second).
SHUTDOWN_TIMEOUT_MS = 5000

log = logging.getLogger(__name__)


@dataclass
class _Answer:
    """An answer in flight: where it is saved and what has arrived so far."""

    conversation_id: int
    message_id: int
    answer: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)


class MainWindow(DocumentActions, ModelActions, QMainWindow):
    def __init__(
        self,
        store: Store,
        host: SessionHost,
        worker: EngineWorker | None = None,
        downloads: DownloadManager | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.host = host
        self.worker = worker or EngineWorker(self)
        #: Documents are read on their own queue (each in a child process, isolated.py), so
        #: a file dropped while an answer streams is read at once, beside it.
        self.reader = EngineWorker(self)
        self.downloads = downloads or DownloadManager(self)
        self.conversation_id: int | None = None
        self._answers: dict[int, _Answer] = {}
        self._prepare_when_done = False
        self._open_request: int | None = None
        self._warm_request: int | None = None
        #: Document loads in flight: request id -> (conversation, card key, path).
        self._loading: dict[int, tuple[int | None, str, str]] = {}
        self._thinking = host.settings.thinking
        self._citations = CitationLookup()
        self._closing = False
        self.setWindowTitle("Folio")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self._save_timer = QTimer(self, interval=SAVE_INTERVAL_MS, timeout=self._save_partial)
        self._save_timer.start()
        self._restore()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.sidebar = ConversationList()
        left = self.sidebar
        self.chat = ChatView()
        self.composer = Composer()
        middle = QWidget()
        lay = QVBoxLayout(middle)
        lay.addWidget(self.chat, 1)
        lay.addWidget(self.composer)
        self.documents = DocumentsPanel()
        split = QSplitter(Qt.Orientation.Horizontal)
        for widget in (left, middle, self.documents):
            split.addWidget(widget)
            split.setStretchFactor(split.count() - 1, 1 if widget is middle else 0)
        split.setSizes([240, 760, 300])
        self.setCentralWidget(split)
        self.model_label = QLabel("Loading model…")
        self.context_meter = QProgressBar(minimumWidth=190, maximumWidth=240, textVisible=True)
        self.speed_label = QLabel("")
        self.download_label = QLabel("")
        bar = self.statusBar()
        bar.addWidget(self.model_label, 1)
        bar.addPermanentWidget(self.download_label)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.context_meter)
        for text, keys, slot in (
            ("New chat", QKeySequence.StandardKey.New, self.new_conversation),
            ("Attach…", QKeySequence.StandardKey.Open, self.attach_files),
            ("Search", QKeySequence.StandardKey.Find, self.sidebar.search.setFocus),
            ("Stop", QKeySequence(Qt.Key.Key_Escape), self.stop),
            ("Settings…", QKeySequence("Ctrl+,"), self.open_settings),
            ("Models…", QKeySequence("Ctrl+M"), self.open_models),
            ("Quit", QKeySequence.StandardKey.Quit, self.close),
        ):
            action = QAction(text, self, shortcut=keys, triggered=slot)
            self.addAction(action)

    def _connect(self) -> None:
        w = self.worker
        w.delta.connect(self._on_delta)
        w.progress.connect(self._on_progress)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.result.connect(self._on_result)
        w.cancelled.connect(self._on_cancelled)
        self._connect_reader()
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.search_changed.connect(self._refresh_list)
        self.sidebar.picked.connect(self.open_conversation)
        self.sidebar.rename_requested.connect(self.rename_conversation)
        self.sidebar.delete_requested.connect(self.delete_conversation)
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.stop)
        self.composer.draft_changed.connect(self._save_draft)
        self.composer.thinking_toggled.connect(self._set_thinking)
        self.composer.files_pasted.connect(self.add_files)
        self._connect_downloads()
        self.documents.files_dropped.connect(self.add_files)
        self.documents.attach_requested.connect(self.attach_files)
        self.documents.remove_requested.connect(self._remove_document)
        self.documents.cancel_requested.connect(self._cancel_reading)
        self.chat.regenerate_requested.connect(self.regenerate)
        self.chat.edit_requested.connect(self._edit_last)
        self.chat.citation_clicked.connect(self._show_citation)
        self._citations.found.connect(self._on_citation)

    # ------------------------------------------------------------ conversations
    def _restore(self) -> None:
        saved = self.store.app_state("open_conversation")
        rows = self.store.list_conversations()
        target = next((r.id for r in rows if saved and str(r.id) == saved), None)
        if target is None:
            target = rows[0].id if rows else self.store.create_conversation().id
        self._refresh_list()
        self.open_conversation(target)

    def _refresh_list(self) -> None:
        rows = self.store.list_conversations(self.sidebar.query())
        self.sidebar.show_rows(rows, self.conversation_id)

    def rename_conversation(self) -> None:
        row = self.store.conversation(self.conversation_id or 0)
        if row is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=row.title)
        if ok and title.strip():
            self.store.rename_conversation(row.id, title.strip())
            self._refresh_list()

    def delete_conversation(self) -> None:
        cid = self.conversation_id
        row = self.store.conversation(cid or 0)
        if row is None:
            return
        answer = QMessageBox.question(
            self, "Delete chat", f"Delete “{row.title}” and its messages?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        for rid, state in list(self._answers.items()):
            if state.conversation_id == cid:
                self.worker.cancel(rid)
        self.store.delete_conversation(row.id)
        rows = self.store.list_conversations()
        self.open_conversation(rows[0].id if rows else self.store.create_conversation().id)
        self._refresh_list()

    def new_conversation(self) -> None:
        self.open_conversation(self.store.create_conversation().id)
        self._refresh_list()

    def open_files(self, paths: Sequence[str]) -> None:
        """Open documents Folio was asked to open (command line, a second start, the OS).

        Each such request is its own task, so it gets a new chat rather than joining
        whatever conversation happens to be on screen, unless that chat is still blank (the
        one a start opens): a double-clicked PDF must not leave an empty "New chat" behind.
        """
        if paths:
            if not self._is_blank(self.conversation_id):
                self.new_conversation()
            self.add_files(list(paths))

    def _is_blank(self, conversation_id: int | None) -> bool:
        """No messages, documents or draft: nothing would be lost or mixed by reusing it."""
        return conversation_id is not None and not (
            self.store.messages(conversation_id)
            or self.store.documents(conversation_id)
            or self.store.draft(conversation_id).strip()
        )

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation at once; its session is prepared on the engine thread.

        An answer streaming in another conversation goes on: it is bound to its own
        conversation and saved there; only the pre-reading of the old documents stops.
        """
        self.worker.cancel(self._warm_request)
        self.documents.clear_progress()  # progress shown belongs to the chat being left
        self.conversation_id = conversation_id
        self.store.set_app_state("open_conversation", str(conversation_id))
        self._reload_chat()
        self.composer.set_text(self.store.draft(conversation_id))
        self.composer.set_busy(self._busy_here())
        docs = self.store.documents(conversation_id)
        cards = [
            self._card(d.sha256, d.title, d.type, d.pages, d.tokens, d.warnings, "loading")
            for d in docs
        ]
        self.documents.set_cards([*cards, *self._loading_cards()])
        self._prepare()

    def _prepare(self) -> None:
        """(Re)open the model session for the current conversation, then pre-read documents.

        While an answer of this conversation is still in flight the reopen waits for it to
        end (`_answer_ended`): the session must be rebuilt from the finished turn, not from
        the part saved so far.
        """
        if self._closing:  # results still arriving during shutdown start nothing new
            return
        cid = self.conversation_id
        assert cid is not None
        if self._busy_here():
            self._prepare_when_done = True
            return
        self._prepare_when_done = False
        attached = [(d.path, d.sha256) for d in self.store.documents(cid)]
        msgs = self.store.messages(cid)
        turns = [(u.content, a.content) for u, a in zip(msgs[::2], msgs[1::2], strict=False)
                 if u.role == "user" and a.role == "assistant"]  # fmt: skip
        self._open_request = self.worker.call(lambda cancel: self.host.open(attached, turns))

    # ------------------------------------------------------------------ asking
    def _busy_here(self) -> bool:
        """Whether the conversation on screen has an answer in flight (running or queued)."""
        return any(a.conversation_id == self.conversation_id for a in self._answers.values())

    def send(self, text: str) -> None:
        if self._busy_here() or self.conversation_id is None:
            return  # one answer per conversation; the composer shows Stop meanwhile
        cid = self.conversation_id
        self.store.add_message(cid, "user", text)
        self.chat.add_user_message(text)
        self.composer.clear()
        self.store.set_draft(cid, "")
        self._start_answer(lambda c, q=text, t=self._thinking: self.host.ask(q, t, c))
        self._retitle(cid, text)

    def regenerate(self) -> None:
        self._replace_last_answer(lambda c, t=self._thinking: self.host.regenerate(t, c))

    def _edit_last(self) -> None:
        msgs = self.store.messages(self.conversation_id or 0)
        last_user = next((m for m in reversed(msgs) if m.role == "user"), None)
        if last_user is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Edit question", "Question:",
                                                 last_user.content)  # fmt: skip
        if ok and text.strip():
            self.store.update_message(last_user.id, content=text)
            self._replace_last_answer(
                lambda c, q=text, t=self._thinking: self.host.edit_last(q, t, c)
            )

    def _replace_last_answer(self, job) -> None:
        msgs = self.store.messages(self.conversation_id or 0)
        if msgs and msgs[-1].role == "assistant":
            self.store.delete_message(msgs[-1].id)
        self._reload_chat()
        self._start_answer(job)

    def _reload_chat(self) -> None:
        """Show the conversation's messages; an answer of it still in flight streams on."""
        cid = self.conversation_id or 0
        live = next((a for a in self._answers.values() if a.conversation_id == cid), None)
        msgs = [m for m in self.store.messages(cid) if live is None or m.id != live.message_id]
        # Every answer that ends gets a finish reason; one without it was cut short by a
        # crash or kill (its text saved once a second) and must not pass for a finished one.
        self.chat.set_messages([(m.role, m.content, m.reasoning, m.stats,
                                 m.finish_reason or ("interrupted" if m.role == "assistant"
                                                     else None))
                                for m in msgs])  # fmt: skip
        if live is not None:
            self.chat.begin_answer()
            self.chat.append_delta("".join(live.answer), "".join(live.reasoning))

    def _start_answer(self, job) -> None:
        cid = self.conversation_id
        assert cid is not None
        row = self.store.add_message(cid, "assistant", "")
        self.chat.begin_answer()
        self.composer.set_busy(True)
        rid = self.worker.submit(job)
        self._answers[rid] = _Answer(cid, row.id)

    def stop(self) -> None:
        """Stop this conversation's answer, running or still queued (nothing else).

        A queued answer (e.g. behind a long document pre-read) ends here and now: the
        worker would report it only when its turn came, minutes later perhaps.
        """
        for rid, state in list(self._answers.items()):
            if state.conversation_id != self.conversation_id:
                continue
            self.worker.cancel(rid)
            if self.worker.current() != rid:
                self._on_cancelled(rid)

    def _set_thinking(self, on: bool) -> None:
        self._thinking = on

    def _retitle(self, cid: int, text: str) -> None:
        row = self.store.conversation(cid)
        if row is not None and row.title == "New chat":
            self.store.rename_conversation(cid, text.strip().splitlines()[0][:60])
            self._refresh_list()

    # ----------------------------------------------------------- worker events
    def _on_delta(self, rid: int, answer: str, reasoning: str) -> None:
        state = self._answers.get(rid)
        if state is None:
            return
        if not state.answer and state.conversation_id == self.conversation_id:
            self.documents.clear_progress()  # the prompt is read: the answer itself shows now
        state.answer.append(answer)
        state.reasoning.append(reasoning)
        if state.conversation_id == self.conversation_id:
            self.chat.append_delta(answer, reasoning)

    def _on_progress(self, rid: int, done: int, total: int, rate: float, eta: float) -> None:
        if rid == self._warm_request:
            self.documents.set_progress(done, total, rate, eta, "Reading documents")
        elif rid in self._answers and self._answers[rid].conversation_id == self.conversation_id:
            self.documents.set_progress(done, total, rate, eta, "Reading")

    def _on_finished(self, rid: int, value: object) -> None:
        self.documents.clear_progress()
        state = self._answers.pop(rid, None)
        if state is not None and isinstance(value, Done):
            stats = value.stats.as_dict()
            self.store.update_message(state.message_id, content=value.answer,
                                      reasoning=value.reasoning, stats=stats,
                                      finish_reason=value.finish_reason)  # fmt: skip
            if state.conversation_id == self.conversation_id:
                self.chat.end_answer(stats, value.finish_reason)
                self.speed_label.setText(format_stats(stats))
                used = value.stats.prompt_tokens + value.stats.decode_tokens
                self.context_meter.setValue(min(used, self.context_meter.maximum()))
        if rid == self._warm_request:
            self._warm_request = None
        if state is not None:
            self._answer_ended(state)

    def _on_result(self, rid: int, value: object) -> None:
        if rid == self._open_request and isinstance(value, Opened):
            self._on_opened(value)

    @property
    def preparing(self) -> bool:
        """True while the session is being opened or the documents pre-read."""
        return self._open_request is not None or self._warm_request is not None

    def _on_opened(self, opened: Opened) -> None:
        self._open_request = None
        if self._closing:
            return
        self.model_label.setText(f"{opened.model} · {opened.placement}")
        self.context_meter.setRange(0, opened.n_ctx)
        self.context_meter.setFormat(f"%v / {opened.n_ctx:,} tokens")
        self.composer.set_thinking(self._thinking, supported=opened.thinking_supported)
        cards = []
        for d in self.store.documents(self.conversation_id or 0):
            pages, tokens = opened.document_sizes.get(d.sha256, (d.pages, d.tokens))
            d = dataclasses.replace(d, pages=pages, tokens=tokens)
            warnings = (*d.warnings, *filter(None, [opened.notes.get(d.sha256)]))
            if d.sha256 in opened.unavailable:  # left out of the model's view: say so
                cards.append(
                    self._card(
                        d.sha256,
                        d.title,
                        d.type,
                        d.pages,
                        None,
                        warnings,
                        "error",
                        error=opened.unavailable[d.sha256],
                    )
                )
            else:
                cards.append(self._card(d.sha256, d.title, d.type, d.pages, d.tokens, warnings,
                                        "ready", verdict=opened.plan))  # fmt: skip
        self.documents.set_cards([*cards, *self._loading_cards()])
        for sha256, path in opened.needs_password.items():
            self._ask_password(path, opened.unavailable[sha256])
        if cards and opened.plan_mode == "whole":
            self._warm_request = self.worker.submit(lambda c: self.host.warm_up(c))

    def _answer_ended(self, state: _Answer) -> None:
        """After an answer's terminal signal: the composer, and a reopen that waited for it."""
        self.composer.set_busy(self._busy_here())
        if state.conversation_id == self.conversation_id and self._prepare_when_done:
            self._prepare()

    def _on_cancelled(self, rid: int) -> None:
        """A job cancelled before it ran: end whatever waited for it, as if it had stopped."""
        if rid in self._answers:
            state = self._answers.pop(rid)
            self.store.update_message(state.message_id, finish_reason="cancelled")
            if state.conversation_id == self.conversation_id:
                self.chat.end_answer(None, "cancelled")
            self._answer_ended(state)
        elif rid == self._open_request:
            self._open_request = None
        elif rid == self._warm_request:
            self._warm_request = None

    def _on_failed(self, rid: int, message: str) -> None:
        self.documents.clear_progress()
        state = self._answers.pop(rid, None)
        if state is not None:
            self.store.update_message(state.message_id, content="".join(state.answer),
                                      finish_reason="error")  # fmt: skip
            if state.conversation_id == self.conversation_id:
                self.chat.end_answer(None, "error")
            self._answer_ended(state)
        if rid == self._open_request:
            self._open_request = None
            self.model_label.setText(f"Model not ready: {message}")
        QMessageBox.warning(self, "Folio", message)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.host.settings, self, downloads=self.downloads)
        accepted = dialog.exec() == SettingsDialog.DialogCode.Accepted
        dialog.deleteLater()  # its Models tab would keep following the downloads
        if not accepted:
            return
        new = dialog.result_settings()
        if not dialog.model_edited():
            # A model switched while the dialog was open (a download finished) stays.
            new = new.replace(model_path=settings_mod.load().model_path)
        settings_mod.save(new)
        apply_theme(QApplication.instance(), new.theme)
        try:
            model_path = resolve_model(new.model_path, None)
        except FolioError as exc:
            QMessageBox.warning(self, "Folio", str(exc))
            return
        if needs_reload(self.host.settings, new):
            self.model_label.setText("Reloading the model with the new settings…")
        self.worker.call(lambda c: self.host.reconfigure(model_path, new))
        self._thinking = new.thinking
        self._prepare()  # the system prompt or sampling may have changed too

    def _show_citation(self, label: str) -> None:
        paths = [d.path for d in self.store.documents(self.conversation_id or 0)]
        self._citations.look_up(paths, label)

    def _on_citation(self, label: str, where: str, text: str) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(f"Page or section {label}")
        box.setText(where or f"“{label}” is not a page or section of the attached documents.")
        box.setDetailedText(text)
        box.show()

    # ------------------------------------------------------------- persistence
    def _save_partial(self) -> None:
        """Save every growing answer (at least once a second): a crash loses little."""
        for state in self._answers.values():
            self.store.update_message(state.message_id, content="".join(state.answer),
                                      reasoning="".join(state.reasoning))  # fmt: skip

    def _save_draft(self, text: str) -> None:
        if self.conversation_id is not None:
            self.store.set_draft(self.conversation_id, text)

    # ------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Stop cleanly: the answer in flight ends within a token and is saved."""
        self._closing = True
        if self.conversation_id is not None:
            self.store.set_draft(self.conversation_id, self.composer.text())
        # Stop aborts a decode between graph nodes, so the job in flight ends within about
        # a second even mid-prefill; the model is then freed on the engine thread. The final
        # deltas and `finished` are delivered before shutdown returns, so the answer is saved.
        self.reader.shutdown()  # stops a document being read (its child is killed)
        if not self.worker.shutdown(SHUTDOWN_TIMEOUT_MS, last=self.host.close):
            # Never free memory a decode may still be using: the process exit reclaims it.
            log.error("the engine did not stop in %d ms; quitting without freeing it",
                      SHUTDOWN_TIMEOUT_MS)  # fmt: skip
        self.downloads.shutdown()  # pauses them; the next start shows them paused
        self._save_partial()
        event.accept()
