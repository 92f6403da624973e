"""What a view shows for one attached document, as plain data the controller derives.

A document's state is a type, not prose: the panel decides how a card looks from `state`
and `fit`, never by matching words of the text it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class DocState(StrEnum):
    #: Being extracted (a child process reads it) or waiting for the session to open.
    LOADING = "loading"
    #: In the model's view.
    READY = "ready"
    #: Not in the model's view; `DocumentCard.error` says why.
    ERROR = "error"


class Fit(StrEnum):
    """How the documents reach the model (the context plan's mode)."""

    #: Every document is in the context, whole.
    WHOLE = "whole"
    #: Too large: each question gets the passages that match it.
    PASSAGES = "retrieval"


@dataclass(frozen=True)
class DocumentCard:
    key: str
    name: str
    type: str
    pages: int | None
    tokens: int | None
    state: DocState
    #: The plan in words ("whole document in view…"), shown under a ready card.
    verdict: str = ""
    fit: Fit | None = None
    warnings: tuple[str, ...] = ()
    error: str = ""


def loading_card(key: str, path: str) -> DocumentCard:
    """The card of a file still being extracted: only its name is known."""
    return DocumentCard(key, Path(path).name, "", None, None, DocState.LOADING)
