"""The side panel listing attached documents, their reading progress and how they fit.

The panel is a pure view of `DocumentCard` values (core/chat/cards.py) pushed by the window:
it never opens a file or asks the model anything, so it can be redrawn from state at any
time (a card is rebuilt rather than patched). User intent leaves as signals: drop, attach,
remove, cancel.

Colours come from the palette so dark and light themes both work; the only fixed colours are
the warning/error tints, picked per theme lightness so they stay readable on either.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QMimeData, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.chat.cards import DocState, DocumentCard, Fit
from desktop_app.errors import printable

EMPTY_HINT = "Drop PDF, DOCX, text files or scans here, or click Attach…"
NBSP = "\u00a0"
#: (light theme, dark theme): dark text on light backgrounds, light text on dark ones.
_TINTS = {"warning": ("#9a6700", "#e3b341"), "error": ("#cf222e", "#ff7b72")}


def format_duration(seconds: float) -> str:
    """'37 s', '5 min 37 s', '1 h 12 min': precise enough for a wait, short enough to scan."""
    s = max(1, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, s = divmod(s, 60)
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m} min" if m else f"{h} h"


def format_progress(
    done: int,
    total: int,
    tokens_per_s: float | None,
    eta_s: float | None,
    label: str = "Reading",
    unit: str = "tokens",
) -> str:
    """'Reading 12,288 / 40,960 tokens · 85 tok/s · 5 min 37 s left' (or pages while a
    document is extracted). Rate and ETA are omitted until they mean something (None,
    NaN or infinite right after a start)."""
    parts = [f"{label} {done:,} / {total:,} {unit}" if total > 0 else f"{label} {done:,} {unit}"]
    if _finite(tokens_per_s) and 0 < tokens_per_s < 1 and unit == "pages":
        parts.append(f"{1 / tokens_per_s:.1f} s/page")  # OCR: seconds a page say more
    elif _finite(tokens_per_s) and tokens_per_s > 0:
        rate = f"{tokens_per_s:.0f}" if tokens_per_s >= 10 else f"{tokens_per_s:.1f}"
        parts.append(f"{rate} {'tok' if unit == 'tokens' else unit}/s")
    if _finite(eta_s) and eta_s >= 0:
        parts.append(f"{format_duration(eta_s)} left")
    return " · ".join(parts)


def card_summary(card: DocumentCard) -> str:
    """'12 pages · 8,431 tokens', plus what is happening while the document is not ready."""
    parts = []
    if card.pages is not None:
        parts.append(f"{card.pages:,} page" + ("" if card.pages == 1 else "s"))
    if card.tokens is not None:
        parts.append(f"{card.tokens:,} tokens")
    if card.state is DocState.LOADING:
        # A file whose type is not known yet is still being read; a read one waits for the
        # session to open. A verdict says more: "reading by OCR: 3 of 40 pages".
        doing = card.verdict or ("opening" if card.type else "reading")
        parts.append(f"{doing}…" if parts else f"{doing[0].upper()}{doing[1:]}…")
    return " · ".join(parts)


def local_paths(mime: QMimeData) -> list[str]:
    """Local file paths carried by a drag; a browser link or dragged text gives []."""
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _tint(kind: str, palette: QPalette) -> QColor:
    light, dark = _TINTS[kind]
    return QColor(dark if palette.color(QPalette.ColorRole.Window).lightness() < 128 else light)


def _label(text: str, *, muted: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if muted:
        # PlaceholderText is the palette's own "secondary text" role, so themes keep it legible.
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def plain_tip(text: str) -> str:
    """A tooltip that shows `text` as written: Qt guesses rich text for tooltips, so a file
    name like "<b>deal</b>.pdf" would be drawn as markup; escaped inside markup, it is not."""
    return f"<p>{html.escape(text)}</p>"


class _ElidedLabel(QLabel):
    """A one-line label that ends in '…' when narrow, with the full text as tooltip."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._full = text
        self.setToolTip(plain_tip(text))
        self.setMinimumWidth(20)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        mode = Qt.TextElideMode.ElideMiddle  # keeps the extension and the distinctive start
        self.setText(self.fontMetrics().elidedText(self._full, mode, self.width()))


class _Badge(QLabel):
    """The small 'PDF' tag; painted by hand so it follows palette changes without QSS."""

    def __init__(self, text: str) -> None:
        super().__init__(text.upper())
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 0.8)
        font.setBold(True)
        self.setFont(font)
        self.setContentsMargins(5, 1, 5, 1)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        painter.end()
        super().paintEvent(event)


class _CardWidget(QFrame):
    """One document: name, badge, summary, verdict, warnings or error, and a remove button."""

    removed = Signal(str)

    def __init__(self, card: DocumentCard) -> None:
        super().__init__()
        self.card = card
        self._tinted: list[tuple[QLabel, str]] = []

        remove = QToolButton(self)
        remove.setText("×")
        remove.setAutoRaise(True)
        remove.setToolTip(plain_tip(f"Remove {printable(card.name)}"))
        remove.setObjectName("remove")
        remove.clicked.connect(lambda: self.removed.emit(card.key))

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(_Badge(card.type or "?"))
        top.addWidget(_ElidedLabel(printable(card.name)), 1)
        top.addWidget(remove)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 4, 8)
        layout.setSpacing(3)
        layout.addLayout(top)
        summary = card_summary(card)
        if summary:
            layout.addWidget(_label(summary, muted=True))
        if card.state is DocState.ERROR:
            self._add_tinted(layout, card.error or "Could not read this document.", "error")
        elif card.verdict and card.state is not DocState.LOADING:  # (loading: in the summary)
            if card.fit is Fit.PASSAGES:  # only parts reach the model: a warning
                self._add_tinted(layout, card.verdict, "warning")
            else:
                layout.addWidget(_label(card.verdict, muted=True))
        for warning in card.warnings:
            self._add_tinted(layout, f"⚠ {warning}", "warning")
        self._apply_tints()

    def _add_tinted(self, layout: QVBoxLayout, text: str, kind: str) -> None:
        label = _label(text)
        self._tinted.append((label, kind))
        layout.addWidget(label)

    def _apply_tints(self) -> None:
        for label, kind in self._tinted:
            palette = label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, _tint(kind, self.palette()))
            label.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # theme switch: re-pick the tints
            self._apply_tints()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        palette = self.palette()
        error = self.card.state is DocState.ERROR
        border = _tint("error", palette) if error else palette.color(QPalette.ColorRole.Mid)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.end()


class DocumentsPanel(QWidget):
    """Cards for the attached documents, a progress row while reading, and a drop target."""

    files_dropped = Signal(list)
    attach_requested = Signal()
    remove_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._cards: dict[str, _CardWidget] = {}

        title = QLabel("Documents")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        attach = QPushButton("Attach…")
        attach.setToolTip("Add PDF, DOCX or text files")
        attach.clicked.connect(self.attach_requested)
        header = QHBoxLayout()
        header.addWidget(title, 1)
        header.addWidget(attach)

        self._progress_label = _label("", muted=True)
        self._progress_bar = QProgressBar()
        self._progress_bar.setTextVisible(False)
        self._progress_bar.setMaximumHeight(8)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.cancel_requested)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self._progress_bar, 1)
        bar_row.addWidget(cancel)
        self._progress = QWidget()
        progress_layout = QVBoxLayout(self._progress)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        progress_layout.setSpacing(2)
        progress_layout.addWidget(self._progress_label)
        progress_layout.addLayout(bar_row)
        self._progress.hide()

        container = QWidget()
        self._list = QVBoxLayout(container)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(6)
        self._list.addStretch(1)  # cards are inserted above it, so they stay packed at the top
        self._scroll = QScrollArea()
        self._scroll.setWidget(container)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Inherit the panel's background instead of the scroll area's Base fill.
        self._scroll.viewport().setAutoFillBackground(False)
        container.setAutoFillBackground(False)

        self._empty = _label(EMPTY_HINT, muted=True)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        #: How the documents reach the model, with the numbers, once for all the cards.
        self.plan = _label("", muted=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addLayout(header)
        layout.addWidget(self._progress)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self._empty, 1)
        layout.addWidget(self.plan)
        self._refresh_empty()

    # -- cards -------------------------------------------------------------------------------

    def set_cards(self, cards: Sequence[DocumentCard]) -> None:
        """Replace every card, in the given order."""
        for key in list(self._cards):
            self.remove_card(key)
        for card in cards:
            self.update_card(card)

    def update_card(self, card: DocumentCard) -> None:
        """Add a card, or rebuild the one with the same key in place (keeping its position)."""
        widget = _CardWidget(card)
        widget.removed.connect(self.remove_requested)
        old = self._cards.get(card.key)
        if old is None:
            self._list.insertWidget(self._list.count() - 1, widget)
        else:
            self._list.insertWidget(self._list.indexOf(old), widget)
            self._discard(old)
        self._cards[card.key] = widget
        self._refresh_empty()

    def remove_card(self, key: str) -> None:
        """Drop a card; an unknown key is ignored (the window may race a failed load)."""
        widget = self._cards.pop(key, None)
        if widget is not None:
            self._discard(widget)
        self._refresh_empty()

    def set_plan(self, text: str) -> None:
        self.plan.setText(text)
        self._refresh_empty()

    def card_count(self) -> int:
        return len(self._cards)

    def readable_count(self) -> int:
        """The documents that are, or once read will be, in the model's view (not those
        that could not be read)."""
        return sum(w.card.state is not DocState.ERROR for w in self._cards.values())

    def card(self, key: str) -> DocumentCard | None:
        """What the card with `key` shows (None when there is none)."""
        widget = self._cards.get(key)
        return widget.card if widget is not None else None

    # -- progress ----------------------------------------------------------------------------

    def set_progress(
        self,
        done: int,
        total: int,
        tokens_per_s: float | None,
        eta_s: float | None,
        label: str = "Reading",
        unit: str = "tokens",
    ) -> None:
        """Show or update the progress row; total <= 0 shows an indeterminate bar."""
        text = format_progress(done, total, tokens_per_s, eta_s, label, unit)
        # Wrap only at the " · " separators, so "5 min 37 s left" never splits across lines.
        self._progress_label.setText(text.replace(" ", NBSP).replace(f"{NBSP}·{NBSP}", " · "))
        self._progress_bar.setRange(0, max(total, 0))
        self._progress_bar.setValue(max(0, min(done, total)))
        self._progress.show()

    def clear_progress(self) -> None:
        self._progress.hide()

    def progress_text(self) -> str:
        """The progress row's text ('' when hidden), for the window's status mirroring and tests."""
        text = self._progress_label.text().replace(NBSP, " ")
        return text if not self._progress.isHidden() else ""

    # -- drag and drop -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        self._accept_if_files(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt override)
        self._accept_if_files(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths)

    # -- internals ---------------------------------------------------------------------------

    def _accept_if_files(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        """Accepting only file drags makes the cursor say 'no' over text or links."""
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _discard(self, widget: _CardWidget) -> None:
        self._list.removeWidget(widget)
        widget.hide()
        widget.deleteLater()

    def _refresh_empty(self) -> None:
        empty = not self._cards
        self._empty.setVisible(empty)
        self._scroll.setVisible(not empty)
        self.plan.setVisible(not empty and bool(self.plan.text()))
