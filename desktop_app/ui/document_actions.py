"""The window's document actions: attach, drop, remove, cancel reading, passwords.

A mixin of `MainWindow` (it uses the window's store, worker, host and panel),
kept apart so the window module stays about layout and the answer flow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit

from desktop_app.core.documents import Document
from desktop_app.core.history.store import Store
from desktop_app.ui.documents_panel import DocumentCard, DocumentsPanel
from desktop_app.ui.engine_worker import EngineWorker
from desktop_app.ui.session_host import NeedsPassword, SessionHost


class DocumentActions:
    # Provided by MainWindow:
    store: Store
    worker: EngineWorker
    reader: EngineWorker
    host: SessionHost
    documents: DocumentsPanel
    conversation_id: int | None
    _loading: dict[int, tuple[int | None, str, str]]
    _warm_request: int | None
    _prepare: Callable[[], None]

    def attach_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Attach documents", str(Path.home()),
            "Documents (*.pdf *.docx *.txt *.md *.csv *.html *.htm);;All files (*)",
        )  # fmt: skip
        if paths:
            self.add_files(paths)

    def add_files(self, paths: list[str], password: str | None = None) -> None:
        cid = self.conversation_id
        for path in paths:
            key = f"loading:{path}"
            self.documents.update_card(
                self._card(key, Path(path).name, "", None, None, (), "loading")
            )
            rid = self.reader.submit(lambda c, p=path: self.host.extract(p, password, c))
            self._loading[rid] = (cid, key, path)

    def _loading_cards(self) -> list[DocumentCard]:
        """Cards of this conversation's documents still being read: a rebuild of the card
        list (the session reopening, the user coming back) must not lose them."""
        return [
            self._card(key, Path(path).name, "", None, None, (), "loading")
            for cid, key, path in self._loading.values()
            if cid == self.conversation_id
        ]

    def _cancel_reading(self) -> None:
        """The progress row's Cancel: stop extracting and pre-reading documents."""
        for rid in self._loading:
            self.reader.cancel(rid)
        self.worker.cancel(self._warm_request)

    # -- the reader queue's events (its request ids are its own) ---------------------------

    def _connect_reader(self) -> None:
        r = self.reader
        r.progress.connect(self._on_read_progress)
        r.finished.connect(self._on_read)
        r.failed.connect(self._on_read_failed)
        r.cancelled.connect(lambda rid: self._on_read(rid, None))

    def _on_read_progress(self, rid: int, done: int, total: int, rate: float, eta: float) -> None:
        if rid in self._loading:
            self.documents.set_progress(done, total, rate, eta, "Extracting", "pages")

    def _on_read(self, rid: int, value: object) -> None:
        """A document read (or not: None when cancelled; NeedsPassword when encrypted)."""
        if rid not in self._loading:
            return
        cid, key, _ = self._loading.pop(rid)
        self.documents.clear_progress()
        self.documents.remove_card(key)
        if isinstance(value, NeedsPassword):
            self._ask_password(value.path, value.message)
        elif isinstance(value, Document):
            if cid is not None:
                self.store.attach_document(cid, sha256=value.sha256, path=str(value.path),
                                           title=value.path.name, type=value.type,
                                           pages=value.pages, tokens=None,
                                           warnings=value.warnings)  # fmt: skip
            if cid == self.conversation_id:
                self._prepare()

    def _on_read_failed(self, rid: int, message: str) -> None:
        if rid not in self._loading:
            return
        _, key, path = self._loading.pop(rid)
        self.documents.clear_progress()
        self.documents.update_card(self._card(key, Path(path).name, "", None, None, (),
                                              "error", error=message))  # fmt: skip

    def _remove_document(self, key: str) -> None:
        for row in self.store.documents(self.conversation_id or 0):
            if row.sha256 == key:
                self.store.detach_document(row.id)
        self.documents.remove_card(key)
        self._prepare()

    @staticmethod
    def _card(
        key, name, kind, pages, tokens, warnings, state, verdict="", error=""
    ) -> DocumentCard:
        return DocumentCard(key=key, name=name, type=kind, pages=pages, tokens=tokens,
                            verdict=verdict, warnings=tuple(warnings), state=state,
                            error=error)  # fmt: skip

    def _ask_password(self, path: str, message: str) -> None:
        password, ok = QInputDialog.getText(self, "Password", message,
                                            QLineEdit.EchoMode.Password)  # fmt: skip
        if ok:
            self.add_files([path], password)
