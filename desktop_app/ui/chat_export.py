"""Answers and chats saved as Markdown from the window, with their checked citations: the
same file `folio ask --export` writes."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app import atomic
from desktop_app.core.chat.export import Turn, export_markdown
from desktop_app.errors import FolioError


def ask_where(parent: QWidget, caption: str, name: str) -> str:
    """The path the user chose for `name`.md ("" if they cancelled)."""
    name = re.sub(r"[^\w\- ]+", "", name)[:60].strip() or "answer"
    path, _ = QFileDialog.getSaveFileName(
        parent, caption, str(Path.home() / f"{name}.md"), "Markdown (*.md)"
    )
    return path


def write_export(path: str, pairs: list[Turn], documents: list[str], model: str | None) -> None:
    """Write the turns atomically; a FolioError says why it could not be written."""
    markdown = export_markdown(pairs, documents=documents, model=model, when=datetime.now())
    try:
        atomic.write_bytes(Path(path), markdown.encode("utf-8"))
    except OSError as exc:
        raise FolioError(f"Could not export to {path}: {exc.strerror or exc}") from None
