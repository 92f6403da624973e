"""The source pane: the cited page beside the answer, the quoted words highlighted.

Clicking a citation shows its page (a PDF page drawn by PDFium at the screen's device pixel
ratio, in a child process; see core/documents/render_service.py) or its section (DOCX,
text), scrolled to the quote with the quote highlighted, and says what the citation check
found: the quote is on this page, it was found on another page (shown instead), or it is
nowhere in the document. Paging, zoom, fit width and "open in the system viewer" work as in
a PDF viewer. Everything is fetched off the UI thread (ui/source_loader.py); a result that
arrives after the user moved on is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.ui.source_loader import Request, Shown, SourceLoader
from desktop_app.ui.source_ref import SourceRef
from desktop_app.ui.source_room import PANE_MIN_WIDTH, make_room, minimum_width

#: Zoom steps, in percent of the page's actual size (96 logical pixels an inch).
ZOOMS = (50, 67, 80, 100, 125, 150, 200, 300, 400)
#: Highlight fill and outline (translucent: the words stay readable under it).
HIGHLIGHT = QColor(255, 214, 0, 110)
HIGHLIGHT_EDGE = QColor(230, 150, 0, 220)
#: Around the page in the scroll area.
MARGIN = 12


class PageCanvas(QWidget):
    """A rendered page with its highlight boxes (device pixels, drawn at logical size)."""

    def __init__(self) -> None:
        super().__init__()
        self.image = QImage()
        self.boxes: tuple[tuple[float, float, float, float], ...] = ()
        self._ratio = 1.0

    def show_page(self, image: QImage, boxes: tuple, ratio: float) -> None:
        image.setDevicePixelRatio(ratio)
        self.image, self.boxes, self._ratio = image, boxes, ratio
        self.setFixedSize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.image.deviceIndependentSize().toSize() if not self.image.isNull() else QSize()

    def box_rects(self) -> list[QRectF]:
        """The highlight boxes in this widget's (logical) coordinates."""
        r = self._ratio
        return [QRectF(x0 / r, y0 / r, (x1 - x0) / r, (y1 - y0) / r)
                for x0, y0, x1, y1 in self.boxes]  # fmt: skip

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.drawImage(0, 0, self.image)
        painter.setPen(QPen(HIGHLIGHT_EDGE, 1.2))
        painter.setBrush(HIGHLIGHT)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
        for rect in self.box_rects():
            painter.drawRoundedRect(rect.adjusted(-2, -1, 2, 1), 2, 2)
        painter.end()


class SourcePane(QWidget):
    """Shows one place of a document at a time; `show_source` for a citation click."""

    closed = Signal()
    #: A page or section is on screen (for tests and the status of the pane).
    shown = Signal(object)

    def __init__(self, library: DocumentLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(PANE_MIN_WIDTH)
        self.loader = SourceLoader(library, self)
        self.loader.shown.connect(self._on_shown)
        self.loader.failed.connect(self._on_failed)
        self._number = 0
        self._request: Request | None = None
        self.current: Shown | None = None
        self.ref: SourceRef | None = None
        self.zoom: int | None = None  # percent; None = fit width
        #: The unit the citation's quote belongs to (other pages show no highlight).
        self._quote_index = -1
        #: The splitter's sizes before the pane opened, given back when it closes.
        self._sizes_before: list[int] | None = None
        self._send_timer = QTimer(self, singleShot=True, interval=0)
        self._send_timer.timeout.connect(self._send)
        self._refit = QTimer(self, singleShot=True, interval=150)
        self._refit.timeout.connect(lambda: self.zoom is None and self._reload())
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.title = QLabel(wordWrap=True)  # a long file name must not widen the pane
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-weight: 600;")
        self.page_label = QLabel()
        self.prev_button = self._tool("‹", "Previous page (Page Up)", lambda: self.turn(-1))
        self.next_button = self._tool("›", "Next page (Page Down)", lambda: self.turn(1))
        self.zoom_out = self._tool("−", "Zoom out (Ctrl+-)", lambda: self.step_zoom(-1))
        self.zoom_in = self._tool("+", "Zoom in (Ctrl++)", lambda: self.step_zoom(1))
        self.fit_button = self._tool("Fit width", "Fit the page to the pane's width", self.fit)
        self.open_button = self._tool(
            "Open", "Open the document in the system viewer", self.open_external
        )
        self.close_button = self._tool("✕", "Close the source pane", self.close_pane)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.prev_button, self.page_label, self.next_button):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.zoom_out, self.zoom_in, self.fit_button, self.open_button):
            bar.addWidget(w)
        bar.addWidget(self.close_button)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        self.canvas = PageCanvas()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.canvas)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.scroll.setBackgroundRole(QPalette.ColorRole.Dark)
        self.section = QPlainTextEdit(readOnly=True)
        self.message = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        for w in (self.message, self.scroll, self.section):
            self.stack.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addLayout(bar)
        layout.addWidget(self.verdict)
        layout.addWidget(self.stack, 1)
        for keys, slot in (
            (QKeySequence.StandardKey.MoveToPreviousPage, lambda: self.turn(-1)),
            (QKeySequence.StandardKey.MoveToNextPage, lambda: self.turn(1)),
            (QKeySequence.StandardKey.ZoomIn, lambda: self.step_zoom(1)),
            (QKeySequence.StandardKey.ZoomOut, lambda: self.step_zoom(-1)),
        ):
            QShortcut(keys, self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _tool(self, text: str, tip: str, slot: Callable[[], None]) -> QToolButton:
        button = QToolButton(text=text, toolTip=tip, autoRaise=True)
        button.clicked.connect(slot)
        return button

    # ---------------------------------------------------------------- commands
    def open_beside(self, width: int) -> None:
        """Show the pane `width` wide in its splitter (conversations, chat, this, documents),
        the room taken as `make_room` says; `close_pane` gives it back as it was."""
        splitter = self.parentWidget()
        if not self.isHidden() or not isinstance(splitter, QSplitter):
            return
        self._sizes_before = before = splitter.sizes()
        minimums = [minimum_width(splitter.widget(i)) for i in range(splitter.count())]
        self.show()
        # The pane's handle appears with it and takes its width from the chat's share.
        sizes = [before[0], before[1] - splitter.handleWidth(), *before[2:]]
        splitter.setSizes(make_room(sizes, width, minimums))

    def show_source(self, ref: SourceRef, paths: Sequence[str]) -> None:
        """A citation was clicked: find its place in `paths` and show it, fitted to the
        pane's width (a zoom chosen for the last citation could put this one's words off
        the side)."""
        self.ref = ref
        self.zoom = None
        self.title.setText(f"{ref.document or 'Source'} — finding {ref.locator}…")
        self.show()
        self._submit(Request(paths, ref.quote, locator=ref.locator, document=ref.document))

    def turn(self, step: int) -> None:
        shown = self.current
        if shown is None or not 0 <= shown.index + step < shown.count:
            return
        self._submit(Request(self._paths(), self._quote_for(shown.index + step),
                             path=shown.path, index=shown.index + step))  # fmt: skip

    def step_zoom(self, step: int) -> None:
        current = self.zoom or self._fit_percent()
        options = [z for z in ZOOMS if (z > current + 1 if step > 0 else z < current - 1)]
        if options:
            self.zoom = options[0] if step > 0 else options[-1]
            self._reload()

    def fit(self) -> None:
        self.zoom = None
        self._reload()

    def open_external(self) -> None:
        if self.current is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.current.path))

    def close_pane(self) -> None:
        """Hide, tell the window (which remembers the width), and give the side lists and
        the chat back the widths they had before the pane opened."""
        self.hide()
        self.closed.emit()
        splitter, before = self.parentWidget(), self._sizes_before
        self._sizes_before = None
        if isinstance(splitter, QSplitter) and before is not None:
            total = sum(splitter.sizes())
            sides = before[0] + before[3]
            if total > sides:
                splitter.setSizes([before[0], total - sides, 0, before[3]])

    def shutdown(self) -> None:
        self.loader.close()

    # ----------------------------------------------------------------- helpers
    def _paths(self) -> Sequence[str]:
        return self._request.paths if self._request else ()

    def _quote_for(self, index: int) -> str | None:
        """The quote stays highlighted on its own page only."""
        if self.current is not None and index == self._quote_index:
            return self.ref.quote if self.ref else None
        return None

    def _submit(self, request: Request) -> None:
        """Send `request` once the pane is laid out (a pane just shown has no width yet to
        fit the page to); several requests in one turn of the event loop send the last."""
        self._number += 1
        self._request = request
        self._send_timer.start()

    def _send(self) -> None:
        if self._request is None:
            return
        ratio = self.devicePixelRatioF()
        if self.zoom is None:
            request = replace(self._request, fit_width=int(self._fit_width() * ratio))
        else:
            request = replace(self._request, scale=self.zoom / 100 * 96 / 72 * ratio, fit_width=0)
        self.loader.submit(self._number, request)

    def _fit_width(self) -> int:
        """The page's width when fitted: the pane less the frame, a vertical scroll bar (a
        fitted page is taller than the pane) and the margins."""
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return max(self.stack.width() - 2 * self.scroll.frameWidth() - bar - 2 * MARGIN, 200)

    def _reload(self) -> None:
        if self._request is not None:
            self._submit(self._request)

    def _fit_percent(self) -> int:
        if self.current is None or self.current.image is None:
            return 100
        return round(self.current.scale / self.devicePixelRatioF() * 72 / 96 * 100)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        shown = self.current
        if self.zoom is None and shown is not None and shown.image is not None:
            if abs(shown.image.width() / self.devicePixelRatioF() - self._fit_width()) > 1:
                self._refit.start()

    # ----------------------------------------------------------------- results
    def _on_shown(self, number: int, shown: Shown) -> None:
        if number != self._number:
            return  # the user has moved on
        clicked = self._request is not None and self._request.locator is not None
        first = self.current is None or clicked
        self.current = shown
        if clicked:
            self._quote_index = shown.index
            # Paging and zooming from here on address the unit by index.
            self._request = replace(self._request, locator=None, path=shown.path, index=shown.index)
        unit = shown.document.units[shown.index]
        self.title.setText(f"{shown.document.path.name} — {unit.heading().strip('[]')}")
        self.page_label.setText(f"{shown.index + 1} of {shown.count}")
        self.prev_button.setEnabled(shown.index > 0)
        self.next_button.setEnabled(shown.index + 1 < shown.count)
        for w in (self.zoom_in, self.zoom_out, self.fit_button):
            w.setEnabled(shown.image is not None)
        if shown.image is not None:
            self.canvas.show_page(shown.image, shown.highlights, self.devicePixelRatioF())
            self.stack.setCurrentWidget(self.scroll)
            if first:
                self._scroll_to_highlight()
        else:
            self._show_section(unit.text, shown.span)
        self.verdict.setText(self._verdict(shown))
        self.shown.emit(shown)

    def _on_failed(self, number: int, message: str) -> None:
        if number != self._number:
            return
        self.title.setText(self.ref.document if self.ref and self.ref.document else "Source")
        self.verdict.setText("")
        self.message.setText(message)
        self.stack.setCurrentWidget(self.message)
        self.shown.emit(None)

    def _scroll_to_highlight(self) -> None:
        rects = self.canvas.box_rects()
        if rects:
            first = rects[0]
            self.scroll.ensureVisible(int(first.center().x()), int(first.center().y()), 40,
                                      self.scroll.viewport().height() // 3)  # fmt: skip
        else:
            self.scroll.verticalScrollBar().setValue(0)

    def _show_section(self, text: str, span: tuple[int, int] | None) -> None:
        self.section.setPlainText(text)
        selections = []
        if span is not None:
            cursor = QTextCursor(self.section.document())
            cursor.setPosition(span[0])
            cursor.setPosition(span[1], QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(255, 214, 0, 150))
            selection = QTextEdit.ExtraSelection()
            selection.cursor, selection.format = cursor, fmt
            selections.append(selection)
            self.section.setTextCursor(QTextCursor(cursor.block()))
            self.section.centerCursor()
        self.section.setExtraSelections(selections)
        self.stack.setCurrentWidget(self.section)

    def _verdict(self, shown: Shown) -> str:
        """What the check found, and what the highlight shows, in a sentence."""
        ref = self.ref
        if ref is None or shown.index != self._quote_index:
            return ""
        found_here = bool(shown.highlights) or shown.span is not None
        if ref.status == "unsent":
            note = ref.note or "this page was not among the passages the model was given"
            return f"⚠ {note[0].upper()}{note[1:]}: it cannot have read it here."
        if ref.quote and ref.best_match:
            if not found_here:
                return "No quote in this citation to highlight."
            return "No quote in this citation: highlighted is the sentence that best matches it."
        if not ref.quote:
            return ""
        if ref.status == "not_found":
            return f"⚠ The quoted words are not in the document: “{ref.quote}”"
        cited = "page" if shown.image is not None else "section"
        prefixes = {"verified": f"✓ Quote found on the cited {cited}",
                    "elsewhere": f"Moved here: {ref.note}"}  # fmt: skip
        prefix = prefixes.get(ref.status or "", "Quote")
        if shown.image is not None and not shown.has_text:
            return f"{prefix}. The page is an image (no text layer): nothing to highlight."
        scan = shown.document.units[shown.index].ocr is not None
        if not found_here:
            where = "the text OCR read from this scan" if scan else "this page's text layer"
            return f"{prefix}, but its words could not be located in {where}."
        if scan:
            return f"{prefix}, highlighted on the scan (read by OCR): “{ref.quote}”"
        return f"{prefix}: “{ref.quote}”"
