"""Turning user files into the text the model sees."""

from desktop_app.core.documents.text import MAX_FILE_BYTES, load_attachment

__all__ = ["MAX_FILE_BYTES", "load_attachment"]
