"""The left column: New chat, search, and the list of conversations.

A widget that only shows rows and emits signals; the window decides what a
pick, a rename or a delete means (and talks to the store).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.history.store import ConversationRow
from desktop_app.ui.documents_panel import plain_tip


class _FitWidth(QStyledItemDelegate):
    """Rows no wider than the list: a list view lays a row out as wide as its text (and
    then scrolls sideways); capped, the style draws a long title cut with "…"."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(  # noqa: N802 (Qt override)
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        size.setWidth(min(size.width(), self._view.viewport().width()))
        return size


class ConversationList(QWidget):
    picked = Signal(int)  # conversation id
    new_requested = Signal()
    rename_requested = Signal()
    delete_requested = Signal()
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button = QPushButton("New chat")
        self.search = QLineEdit(placeholderText="Search chats")
        self.list = QListWidget()
        # A long title ends in "…" (whole in its tooltip) instead of widening the list
        # behind a horizontal scroll bar.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setItemDelegate(_FitWidth(self.list))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)  # re-cut when the list resizes
        layout = QVBoxLayout(self)
        for widget in (self.new_button, self.search, self.list):
            layout.addWidget(widget)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for text, signal in (("Rename…", self.rename_requested), ("Delete", self.delete_requested)):
            self.list.addAction(QAction(text, self.list, triggered=signal.emit))
        self.new_button.clicked.connect(self.new_requested)
        self.search.textChanged.connect(self.search_changed)
        self.list.currentItemChanged.connect(self._on_current)

    def query(self) -> str:
        return self.search.text()

    def show_rows(self, rows: Sequence[ConversationRow], current: int | None) -> None:
        """Replace the rows without emitting `picked` for the programmatic selection."""
        self.list.blockSignals(True)
        self.list.clear()
        for row in rows:
            item = QListWidgetItem(row.title)
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            item.setToolTip(plain_tip(row.title))
            self.list.addItem(item)
            if row.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _on_current(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.picked.emit(int(item.data(Qt.ItemDataRole.UserRole)))
