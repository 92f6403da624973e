"""Folio's Qt-free core: engine, documents, prompts, storage."""
