"""The documents side of the controller: reading files beside the answers, and their cards.

Files are read on their own queue by the document library (each parsed in a child process),
never behind an answer, and attached to the conversation that was open when they were
dropped. The
cards a view shows are derived here from three sources that a rebuild must all keep: the
store's documents (with what the session found once open), the files still being read, and
the files that could not be read (their error stays until the user removes the card).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from desktop_app.core.chat.cards import DocState, DocumentCard, loading_card
from desktop_app.core.chat.chat_context import ChatContext
from desktop_app.core.chat.engine_queue import (
    Cancelled,
    EngineQueue,
    Failed,
    Finished,
    Progress,
    RequestEvent,
)
from desktop_app.core.chat.session_host import Opened
from desktop_app.core.chat.view import PasswordQuestion
from desktop_app.core.documents import Document, isolated
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.llm.events import PrefillProgress


class Attachments:
    def __init__(
        self,
        chat: ChatContext,
        library: DocumentLibrary,
        reader: EngineQueue,
        settled: Callable[[int | None, bool], None],
    ) -> None:
        """`settled(cid, attached)` is called when a read ended and no other read of that
        conversation, nor a question about one, is left."""
        self._chat = chat
        self.library = library
        self.reader = reader
        self._settled = settled
        #: Files being read, by reader request id: (conversation, card key, path).
        self._loading: dict[int, tuple[int | None, str, str]] = {}
        #: Files that could not be read, by card key: (conversation, card).
        self._unreadable: dict[str, tuple[int | None, DocumentCard]] = {}
        #: Password questions the view has not answered yet, by path: (conversation, whether
        #: the file has a card of its own meanwhile, "waiting for its password").
        self._asking: dict[str, tuple[int | None, bool]] = {}

    def reading(self, cid: int | None = None) -> bool:
        """Whether a file is being read, or waits for its password (for conversation
        `cid`, or for any)."""
        return any(cid is None or c == cid for c, _, _ in self._loading.values()) or any(
            cid is None or c == cid for c, _ in self._asking.values()
        )

    def read(self, cid: int | None, paths: Sequence[str], password: str | None = None) -> None:
        for path in paths:
            key = f"loading:{path}"
            self._unreadable.pop(key, None)  # tried again
            self._chat.view.update_card(loading_card(key, path))
            rid = self.reader.submit(
                lambda c, p=path: self._reading(p, password, c), self._reader_sink
            )
            self._loading[rid] = (cid, key, path)

    def _reading(
        self, path: str, password: str | None, cancel: threading.Event
    ) -> Iterator[object]:
        """A job on the reader queue: the library reads the file (blocking, in its child) on
        a helper thread, so this generator can hand its page progress on as events; Cancel
        stops the child."""
        events: queue.SimpleQueue[object] = queue.SimpleQueue()
        started: dict[str, float] = {}  # per stage: OCR's pace is not the text pages'
        last = [time.monotonic()]

        def progress(done: int, total: int, stage: str) -> None:
            start = started.setdefault(stage, last[0])  # a stage starts where the last ended
            last[0] = time.monotonic()
            rate = done / max(time.monotonic() - start, 1e-6)
            eta = (total - done) / rate if rate > 0 else None  # unknown before the first page
            events.put(PrefillProgress(done, total, rate or None, eta, stage))

        def work() -> None:
            try:
                events.put(self.library.read(path, password, progress, cancel))
            except isolated.Cancelled:
                events.put(None)
            except BaseException as exc:  # handed to the job, which reports it
                events.put(exc)

        threading.Thread(target=work, name="folio-read", daemon=True).start()
        while True:
            item = events.get()
            if isinstance(item, PrefillProgress):
                yield item
                continue
            if isinstance(item, BaseException):
                raise item
            if item is not None:
                yield item
            return

    def remove(self, cid: int, key: str) -> None:
        """The card's remove button: detach the document (or forget the unreadable file)."""
        self._unreadable.pop(key, None)
        for row in self._chat.store.documents(cid):
            if row.sha256 == key:
                self._chat.store.detach_document(row.id)
        self._chat.view.remove_card(key)

    def cancel(self) -> None:
        for rid in self._loading:
            self.reader.cancel(rid)

    def cards(self, cid: int, opened: Opened | None = None) -> list[DocumentCard]:
        """The cards of conversation `cid`: its documents (ready or not in view once the
        session is `opened`, loading before), the unreadable files, the files being read."""
        cards = []
        for d in self._chat.store.documents(cid):
            waiting = opened is None or not (
                d.sha256 in opened.document_sizes or d.sha256 in opened.unavailable
            )
            if waiting:  # before the session opens, or attached since: in view once it does
                cards.append(DocumentCard(d.sha256, d.title, d.type, d.pages, d.tokens,
                                          DocState.LOADING,
                                          warnings=tuple(d.warnings)))  # fmt: skip
                continue
            warnings = (*d.warnings, *filter(None, [opened.notes.get(d.sha256)]))
            if d.sha256 in opened.unavailable:  # left out of the model's view: say so
                cards.append(DocumentCard(d.sha256, d.title, d.type, d.pages, None,
                                          DocState.ERROR, warnings=warnings,
                                          error=opened.unavailable[d.sha256]))  # fmt: skip
            else:
                pages, tokens = opened.document_sizes[d.sha256]
                cards.append(DocumentCard(d.sha256, d.title, d.type, pages, tokens,
                                          DocState.READY, opened.plan, opened.fit,
                                          warnings))  # fmt: skip
        return [
            *cards,
            *(card for c, card in self._unreadable.values() if c == cid),
            *(loading_card(key, path) for c, key, path in self._loading.values() if c == cid),
            *(_waiting_card(path) for path, (c, own) in self._asking.items() if own and c == cid),
        ]

    def ask_password(self, cid: int | None, path: str, message: str, *, refuse: bool) -> None:
        """An encrypted file of `cid`: the view is asked and answers later, through
        `PasswordQuestion.answer` (a dialog must not run a nested event loop inside this
        handler). With a password the file is read again; declined, it stays out of the
        model's view, and with `refuse` its card says so (else the caller's card does)."""
        if path in self._asking:
            return  # already asked; one dialog per file
        self._asking[path] = (cid, refuse)
        if refuse:  # a file just read: its card stays, saying what it waits for
            self._chat.view.update_card(_waiting_card(path))
        post = self._chat.post

        def answer(password: str | None) -> None:
            post(lambda: self._password_given(path, message, password, refuse))

        self._chat.view.request_password(PasswordQuestion(path, message, answer))

    def _password_given(self, path: str, message: str, password: str | None, refuse: bool) -> None:
        if path not in self._asking:
            return  # answered twice
        cid, _ = self._asking.pop(path)
        if password is not None:
            self.read(cid, [path], password)
            return
        if refuse:
            self._refuse(cid, f"loading:{path}", path, message)
        if not self.reading(cid):
            self._settled(cid, False)

    def _reader_sink(self, event: RequestEvent) -> None:
        """Called on the reader thread: the event is handled on the owner thread."""
        self._chat.post(lambda: self._on_reader(event))

    def _on_reader(self, event: RequestEvent) -> None:
        rid = event.request_id
        if rid not in self._loading:
            return
        cid, key, path = self._loading[rid]
        here = cid == self._chat.open_conversation()
        if isinstance(event, Progress):
            if here:
                done, total = event.progress.done, event.progress.total
                ocr = event.progress.stage == "ocr"
                self._chat.view.show_progress(
                    event.progress, "Reading by OCR" if ocr else "Extracting", "pages"
                )
                if ocr:  # the card says it too: a scan takes seconds a page
                    read = f"reading by OCR: {done} of {total} pages"
                    self._chat.view.update_card(replace(loading_card(key, path), verdict=read))
            return
        if not isinstance(event, Finished | Failed | Cancelled):
            return
        del self._loading[rid]
        if here:
            self._chat.view.clear_progress()
        value = event.value if isinstance(event, Finished) else None
        if isinstance(event, Failed):
            self._refuse(cid, key, path, event.message)
        else:
            self._chat.view.remove_card(key)
        attached = isinstance(value, Document) and cid is not None
        if attached:
            self._chat.store.attach_document(cid, sha256=value.sha256, path=str(value.path),
                                        title=value.path.name, type=value.type,
                                        pages=value.pages, tokens=None,
                                        warnings=value.warnings)  # fmt: skip
            if here:  # its card at once ("3 pages · opening…"), not when the session opens
                self._chat.view.update_card(DocumentCard(value.sha256, value.path.name, value.type,
                                                    value.pages, None, DocState.LOADING,
                                                    warnings=tuple(value.warnings)))  # fmt: skip
        elif value is not None:  # encrypted: asked, and settled once answered
            self.ask_password(cid, value.path, value.message, refuse=True)
        if not self.reading(cid):
            self._settled(cid, attached)

    def refused(self, cid: int | None) -> bool:
        """Whether a file dropped on conversation `cid` could not be read."""
        return any(c == cid for c, _ in self._unreadable.values())

    def _refuse(self, cid: int | None, key: str, path: str, message: str) -> None:
        """The file stays out of the model's view; its card says why until removed."""
        error = DocumentCard(key, Path(path).name, "", None, None, DocState.ERROR,
                             error=message)  # fmt: skip
        self._unreadable[key] = (cid, error)
        self._chat.view.update_card(error)


def _waiting_card(path: str) -> DocumentCard:
    return replace(loading_card(f"loading:{path}", path), verdict="waiting for its password")
