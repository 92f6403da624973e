"""Fetch what the source pane shows, off the UI thread.

Finding the cited unit reads the extraction cache and drawing a PDF page waits on the render
child (core/documents/render_service.py): both would stall the window. One worker thread
does them; only the newest request is kept, so paging quickly through a long document
draws the page the user stopped at, not every page on the way. Results come back as queued
signals carrying the request's number, and the pane ignores any but its latest.

Documents come from the document library (core/documents/library.py), which knows the ones
this run read (encrypted ones included) by their bytes and parses any other in its child,
never in the app (an encrypted 10,000-page PDF used to be parsed here on every click, 14 s).
A page read by OCR is highlighted from its words' boxes (the scan has no text layer for the
render child to search): the quote is found in the OCR text with the same matcher as any
citation, and the boxes of the words it spans are scaled onto the drawn page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.documents.model import Document
from desktop_app.core.documents.places import Place, find_place, ocr_boxes, quote_span
from desktop_app.core.documents.rendered_page import rgb32_length
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)


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

    def __init__(self, library: DocumentLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
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
        """Stop the worker (on Quit; the library stops its render child)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)

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

    def _fetch(self, request: Request) -> Shown | None:
        if request.locator is not None:
            place = find_place(
                request.paths, request.locator, request.document, self.library.document_at
            )
            if place is None:
                raise FolioError(
                    f"“{request.locator}” is not a page or section of the attached documents."
                )
        else:
            assert request.path is not None
            place = Place(request.path, self.library.document_at(request.path), request.index)
        path, unit = place.path, place.unit
        if not place.is_paged:
            span = quote_span(unit.text, request.quote)
            return Shown(path, place.document, place.index, None, (), span, True, 1.0)
        scanned = unit.ocr is not None  # its text layer (if any) is not the text read
        page, _ = self.library.render(
            path, place.index + 1, request.scale, None if scanned else request.quote,
            request.fit_width,
        )  # fmt: skip
        highlights = (
            ocr_boxes(unit, request.quote, page.width, page.height) if scanned else page.highlights
        )
        if len(page.pixels) < rgb32_length(page.width, page.height, page.stride):
            raise FolioError("This page could not be shown: its picture is incomplete.")
        fmt = QImage.Format.Format_RGB32
        image = QImage(page.pixels, page.width, page.height, page.stride, fmt)
        return Shown(
            path, place.document, place.index, image.copy(), highlights, None,
            page.has_text or bool(scanned and unit.text.strip()), page.scale,
        )  # fmt: skip
