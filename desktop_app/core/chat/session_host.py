"""The model side of the controller, touched only by jobs on the engine queue.

The controller never calls these methods itself on its own thread: it wraps them in jobs
for the `EngineQueue`, so loading a model, opening a session and answering all run on the
one engine thread, one at a time. Extraction (`extract`) runs on the reader queue instead,
each file in a child process. Tests replace this class with a fake host (no model).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from desktop_app.core import documents
from desktop_app.core.chat import citations
from desktop_app.core.chat.asking import AskingSession
from desktop_app.core.chat.cards import Fit
from desktop_app.core.chat.remote_session import RemoteSession
from desktop_app.core.chat.retrieval import IndexCancelled
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents import Document, isolated
from desktop_app.core.llm.events import AnswerDelta, CitationsChecked, Done, Event, PrefillProgress
from desktop_app.core.llm.remote import RemoteServer
from desktop_app.errors import DocumentError, FolioError, PasswordRequired
from desktop_app.settings import Settings


@dataclass(frozen=True)
class Opened:
    """What a view shows once a conversation's session is ready."""

    model: str
    placement: str
    n_ctx: int
    plan: str
    fit: Fit
    n_threads: int
    thinking_supported: bool
    #: sha256 -> (pages, tokens) of each document, for the document cards.
    document_sizes: dict[str, tuple[int | None, int]] = field(default_factory=dict)
    #: sha256 -> why that document is not in the model's view (its card says so).
    unavailable: dict[str, str] = field(default_factory=dict)
    #: sha256 -> path of an encrypted document whose password this run does not know.
    needs_password: dict[str, str] = field(default_factory=dict)
    #: sha256 -> a note for the card (a moved file read from the extraction cache).
    notes: dict[str, str] = field(default_factory=dict)


class _Cancelled(Exception):
    """Raised from the progress callback to stop an extraction."""


@dataclass(frozen=True)
class NeedsPassword:
    """An encrypted document: the view asks for the password and tries again."""

    path: str
    message: str


class SessionHost:
    def __init__(self, model_path: Path, settings: Settings) -> None:
        self.model_path = model_path
        self.settings = settings
        self.session: AskingSession | None = None
        #: The remote engine server when the settings name one (kept across sessions).
        self._server: RemoteServer | None = None
        #: The open conversation's documents, which answers' citations are checked against.
        self._documents: list[Document] = []
        self._citation_checker: citations.Checker | None = None
        #: Why the last open failed, for a question asked before another open succeeds.
        self._open_error = ""
        #: Passwords given this run, so reopening a conversation needs no new prompt.
        #: Kept in memory only (encrypted documents are never cached on disk either).
        self._passwords: dict[str, str] = {}

    def load_document(
        self,
        path: str,
        password: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Document | NeedsPassword:
        password = password or self._passwords.get(path)
        try:
            doc = documents.load(
                path,
                password,
                max_bytes=self.settings.max_document_bytes,
                progress=progress,
                isolated=True,
                cancel=cancel,
            )
        except PasswordRequired as exc:
            return NeedsPassword(path, str(exc))
        if password:
            self._passwords[path] = password
        return doc

    def password(self, path: str) -> str | None:
        """The password the user gave for `path` in this run (kept in memory only), for the
        source view to draw the encrypted document's pages."""
        return self._passwords.get(path)

    def extract(self, path: str, password: str | None, cancel: threading.Event) -> Iterator[object]:
        """Load a document as a streaming job: page progress, then the result.

        The extractor reports each page through a callback; it runs on a helper
        thread so this generator can hand the progress to the worker as events.
        Cancelling stops the extraction at the next page.
        """
        events: queue.SimpleQueue[object] = queue.SimpleQueue()
        start = time.monotonic()

        def progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            rate = done / max(time.monotonic() - start, 1e-6)
            events.put(PrefillProgress(done, total, rate, (total - done) / rate))

        def work() -> None:
            try:
                events.put(self.load_document(path, password, progress, cancel))
            except (_Cancelled, isolated.Cancelled):
                events.put(None)
            except BaseException as exc:  # handed to the worker, which reports it
                events.put(exc)

        threading.Thread(target=work, name="folio-extract", daemon=True).start()
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

    def resolve(
        self, attached: Sequence[tuple[str, str]]
    ) -> tuple[list[Document], dict[str, str], dict[str, str], dict[str, str]]:
        """Read each attached (path, sha256): the documents, and per sha256 why one is left
        out, which need a password, and notes for the cards."""
        docs: list[Document] = []
        unavailable: dict[str, str] = {}
        needs_password: dict[str, str] = {}
        notes: dict[str, str] = {}
        for path, sha256 in attached:
            name = Path(path).name
            try:
                loaded = self.load_document(path)
            except DocumentError as exc:
                gone = not Path(path).exists()
                cached = documents.cache.get(sha256) if gone else None
                if cached is None:
                    unavailable[sha256] = (
                        f"{name} was moved or deleted, and its text is not cached: attach it "
                        "again to include it"
                        if gone
                        else str(exc)
                    )
                    continue
                loaded = cached.for_path(Path(path))
                notes[sha256] = f"{name} was moved or deleted; using the text read earlier"
            if isinstance(loaded, NeedsPassword):
                needs_password[sha256] = path
                unavailable[sha256] = f"{name} is encrypted: enter its password to include it"
                continue
            docs.append(loaded)
        return docs, unavailable, needs_password, notes

    def open(
        self,
        attached: Sequence[tuple[str, str]],
        turns: Sequence[tuple[str, str]],
        cancel: threading.Event | None = None,
    ) -> Opened | None:
        """(Re)open the session for a conversation's documents ((path, sha256) pairs) and
        turns; None when `cancel` stopped it (Quit while a long document is indexed).

        The loaded engine is handed on and reused when it fits, so switching
        conversations does not reload the model. A document that cannot be read now is
        never dropped silently: it is left out of the model's view and `Opened` says why
        (a moved or deleted file is read from the extraction cache by its sha256 instead).
        """
        docs, unavailable, needs_password, notes = self.resolve(attached)
        self._documents = docs
        try:
            session = self._open_session(docs, turns, cancel)
        except IndexCancelled:
            return None
        facts = session.facts()
        plan = session.plan.summary() if docs else ""
        if unavailable:
            left_out = f"{len(unavailable)} document(s) not in view"
            plan = f"{plan}; {left_out}" if plan else left_out
        return Opened(
            model=facts.model,
            placement=facts.placement,
            n_ctx=facts.n_ctx,
            plan=plan,
            fit=Fit(session.plan.mode),
            n_threads=facts.n_threads,
            thinking_supported=facts.thinking_supported,
            document_sizes={
                d.sha256: (d.pages, n)
                for d, n in zip(docs, session.plan.document_tokens, strict=True)
            },
            unavailable=unavailable,
            needs_password=needs_password,
            notes=notes,
        )

    def _open_session(
        self,
        docs: Sequence[Document],
        turns: Sequence[tuple[str, str]],
        cancel: threading.Event | None,
    ) -> AskingSession:
        """The in-process engine's session, or a remote engine server's when one is set."""
        engine = self.session.engine if isinstance(self.session, ChatSession) else None
        # Whatever happens next, the previous conversation's session must not answer for
        # this one.
        self.session = None
        try:
            if (backend := self.settings.backend) is not None:
                if self._server is None or self._server.backend != backend:
                    self._server = RemoteServer(backend)
                self.session = RemoteSession.open(self._server, self.settings, docs, turns, cancel)
            else:
                self.session = ChatSession.open(
                    self.model_path, self.settings, docs, engine=engine, turns=turns,
                    cancel=cancel,
                )  # fmt: skip
        except (FolioError, IndexCancelled) as exc:
            self._open_error = str(exc)
            if engine is not None:
                engine.close()  # no session owns it now; the next open loads what it needs
            raise
        self._open_error = ""
        return self.session

    def reconfigure(self, model_path: Path, settings: Settings) -> None:
        """New settings from the dialog; a different model file or engine server drops
        the loaded one."""
        if model_path != self.model_path or settings.backend != self.settings.backend:
            self.close()
        self.model_path = model_path
        self.settings = settings

    def warm_up(self, cancel: threading.Event) -> Iterator[object]:
        yield from self._ready().warm_up(cancel=cancel)

    def ask(self, question: str, thinking: bool, cancel: threading.Event) -> Iterator[object]:
        yield from self._checked(self._ready().ask(question, thinking=thinking, cancel=cancel))

    def regenerate(self, thinking: bool, cancel: threading.Event) -> Iterator[object]:
        yield from self._checked(self._ready().regenerate(thinking=thinking, cancel=cancel))

    def edit_last(self, question: str, thinking: bool, cancel: threading.Event) -> Iterator[object]:
        session = self._ready()
        yield from self._checked(session.edit_last(question, thinking=thinking, cancel=cancel))

    def continue_last(self, cancel: threading.Event) -> Iterator[object]:
        yield from self._checked(self._ready().continue_last(cancel=cancel))

    def _checked(self, events: Iterator[Event]) -> Iterator[object]:
        """The answer's citations checked against the documents as each one completes, and
        all of them when it ends (here, on the engine thread: the UI thread never searches
        300 pages)."""
        parts: list[str] = []
        seen = 0
        for event in events:
            if isinstance(event, Done) and self._documents:
                checked = self._checker().check(event.answer, self._sent())
                found = citations.counts(event.answer, checked)
                event = replace(event, stats=replace(event.stats, citations=found))
            yield event
            if isinstance(event, AnswerDelta) and self._documents:
                parts.append(event.text)
                if "]" in event.text:  # a citation may have just closed
                    text = "".join(parts)
                    if (count := len(citations.find_citations(text))) > seen:
                        seen = count
                        checked = self._checker().check(text, self._sent())
                        yield CitationsChecked(citations.counts(text, checked))

    def _sent(self) -> set[tuple[str, str]] | None:
        """Retrieval mode: the passages the model was given (None: it has the documents)."""
        index = self.session.index if self.session is not None else None
        return index.sent if index is not None else None

    def _checker(self) -> citations.Checker:
        """One per set of documents: their text is normalised once, not once a citation."""
        if (
            self._citation_checker is None
            or self._citation_checker.documents is not self._documents
        ):
            self._citation_checker = citations.Checker(self._documents)
        return self._citation_checker

    def api_engine(self):
        """The engine the local API answers with (on the engine thread), None if none (also
        while a remote engine server answers: the local API serves the local model only)."""
        return self.session.engine if isinstance(self.session, ChatSession) else None

    def _ready(self) -> AskingSession:
        """The open session, or a clear error saying why there is none."""
        if self.session is None:
            why = f" ({self._open_error})" if self._open_error else ""
            raise FolioError(f"The model is not ready{why}. Choose a model in Settings.")
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self._server is not None:
            self._server.close()
            self._server = None
