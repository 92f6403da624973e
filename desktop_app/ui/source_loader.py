"""Fetch what the source pane shows, off the UI thread.

Finding the cited unit reads the extraction cache and drawing a PDF page waits on the render
child (core/documents/render_service.py): both would stall the window. One worker thread
does them; only the newest request is kept, so paging quickly through a long document
draws the page the user stopped at, not every page on the way. Results come back as queued
signals carrying the request's number, and the pane ignores any but its latest.

A document not in the extraction cache (an encrypted one never is) is parsed in the reader
child, with its limits, never in the app; the last few stay in memory for the next click
(a 10,000-page encrypted PDF took 14 s to parse, on every click).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop_app.core import documents
from desktop_app.core.documents.model import Document
from desktop_app.core.documents.places import Place, find_place, quote_span
from desktop_app.core.documents.render_service import PageRenderer
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

#: Documents the pane keeps in memory between clicks.
KEPT_DOCUMENTS = 4


@dataclass(frozen=True)
class Request:
    """Show the unit `locator` names (a citation click) or unit `index` of `path` (paging)."""

    paths: Sequence[str]
    quote: str | None
    locator: str | None = None
    document: str | None = None
    path: str | None = None
    index: int = 0
    #: PDF pages: pixels per point, or the width to fit in device pixels (when > 0).
    scale: float = 1.0
    fit_width: int = 0


@dataclass(frozen=True)
class Shown:
    path: str
    document: Document
    index: int
    #: A PDF page as an image (device pixels), else None and `span` is in the unit's text.
    image: QImage | None
    highlights: tuple[tuple[float, float, float, float], ...]
    span: tuple[int, int] | None
    has_text: bool
    scale: float

    @property
    def count(self) -> int:
        return len(self.document.units)


class SourceLoader(QObject):
    shown = Signal(int, object)  # request number, Shown
    #: request number, a message for the user (a missing password included).
    failed = Signal(int, str)

    def __init__(
        self, password: Callable[[str], str | None], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._password = password
        self.renderer = PageRenderer()
        self._documents: OrderedDict[tuple, Document] = OrderedDict()
        self._wake = threading.Condition()
        self._pending: tuple[int, Request] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="folio-source", daemon=True)
        self._thread.start()

    def submit(self, number: int, request: Request) -> None:
        with self._wake:
            self._pending = (number, request)
            self._wake.notify()

    def close(self) -> None:
        """Stop the worker and the render child (on Quit)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)
        self.renderer.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                number, request = self._pending
                self._pending = None
            try:
                self.shown.emit(number, self._fetch(request))
            except FolioError as exc:  # PasswordRequired too: its message says what is needed
                self.failed.emit(number, str(exc))
            except Exception:  # the pane must never take the app down
                log.exception("showing a source failed")
                self.failed.emit(number, "This page could not be shown (see the log).")

    def _load(self, path: str, password: str | None) -> Document:
        """The document at `path`: kept from an earlier click while the file is unchanged,
        else from the extraction cache, else parsed in the reader child."""
        try:
            stat = Path(path).stat()
            key = (path, stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None  # load says what is wrong with it
        if key is not None and (kept := self._documents.get(key)) is not None:
            self._documents.move_to_end(key)
            return kept
        doc = documents.load(path, password, isolated=True)
        if key is not None:
            self._documents[key] = doc
            while len(self._documents) > KEPT_DOCUMENTS:
                self._documents.popitem(last=False)
        return doc

    def _fetch(self, request: Request) -> Shown | None:
        if request.locator is not None:
            place = find_place(
                request.paths, request.locator, request.document, self._load, self._password
            )
            if place is None:
                raise FolioError(
                    f"“{request.locator}” is not a page or section of the attached documents."
                )
        else:
            assert request.path is not None
            place = Place(request.path, self._load(request.path, self._password(request.path)),
                          request.index)  # fmt: skip
        path = place.path
        if not place.is_pdf:
            span = quote_span(place.unit.text, request.quote)
            return Shown(path, place.document, place.index, None, (), span, True, 1.0)
        page, _ = self.renderer.render(
            Path(path), place.index + 1, request.scale, request.quote, self._password(path),
            request.fit_width,
        )  # fmt: skip
        fmt = QImage.Format.Format_RGB32
        image = QImage(page.pixels, page.width, page.height, page.stride, fmt)
        return Shown(
            path, place.document, place.index, image.copy(), page.highlights, None,
            page.has_text, page.scale,
        )  # fmt: skip
