"""Folio: ask questions about whole documents with a local LLM, offline."""

__version__ = "0.1.0"
