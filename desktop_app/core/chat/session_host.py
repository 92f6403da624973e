"""The model side of the controller, touched only by jobs on the engine queue.

The controller never calls these methods itself on its own thread: it wraps them in jobs
for the `EngineQueue`, so loading a model, opening a session and answering all run on the
one engine thread, one at a time. Documents are not its business: the document library
(core/documents/library.py) reads them and hands `open` what it resolved. Tests replace this
class with a fake host (no model).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from desktop_app.core.chat import citation_grammar, citations
from desktop_app.core.chat.asking import AskingSession
from desktop_app.core.chat.cards import Fit
from desktop_app.core.chat.remote_session import RemoteSession
from desktop_app.core.chat.retrieval import IndexCancelled
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents import Document
from desktop_app.core.documents.library import Resolved
from desktop_app.core.llm.events import AnswerDelta, CitationsChecked, Done, Event
from desktop_app.core.llm.remote import RemoteServer
from desktop_app.errors import FolioError
from desktop_app.settings import Settings


@dataclass(frozen=True)
class Opened:
    """What a view shows once a conversation's session is ready."""

    model: str
    placement: str
    n_ctx: int
    #: How the documents reach the model, in words for each card (no combined totals).
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
    #: The plan line with its numbers, each saying what it counts (shown once, not per card);
    #: "" without documents.
    context: str = ""


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

    def open(
        self,
        resolved: Resolved,
        turns: Sequence[tuple[str, str]],
        cancel: threading.Event | None = None,
    ) -> Opened | None:
        """(Re)open the session for a conversation's documents (as the document library
        resolved them) and turns; None when `cancel` stopped it (Quit while a long document
        is indexed).

        The loaded engine is handed on and reused when it fits, so switching
        conversations does not reload the model. A document that cannot be read now is
        never dropped silently: it is left out of the model's view and `Opened` says why.
        """
        docs, unavailable = resolved.documents, resolved.unavailable
        self._documents = docs
        try:
            session = self._open_session(docs, turns, cancel)
        except IndexCancelled:
            return None
        facts = session.facts()
        context = session.plan.summary() if docs else ""
        if unavailable:
            left_out = f"{len(unavailable)} document(s) not in view"
            context = f"{context}; {left_out}" if context else left_out
        return Opened(
            model=facts.model,
            placement=facts.placement,
            n_ctx=facts.n_ctx,
            plan=session.plan.verdict() if docs else "",
            fit=Fit(session.plan.mode),
            n_threads=facts.n_threads,
            thinking_supported=facts.thinking_supported,
            document_sizes={
                d.sha256: (d.pages, n)
                for d, n in zip(docs, session.plan.document_tokens, strict=True)
            },
            unavailable=unavailable,
            needs_password=resolved.needs_password,
            notes=resolved.notes,
            context=context,
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
                    if (count := len(citation_grammar.parse(text))) > seen:
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
