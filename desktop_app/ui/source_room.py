"""Room for the source pane beside the chat: what each column gives up when it opens.

Kept apart from the pane's widgets because it is arithmetic on splitter sizes, testable
without a window. The chat is what the user reads and types in, so it gives up only what
it has above a readable width; the side lists and the pane itself give up the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QWidget

#: The chat column keeps room to read when the source pane opens (its transcript, inside
#: the column's margins, stays at least 480 px wide).
CHAT_MIN_WIDTH = 500
#: The narrowest the pane and the side lists are made to make room (their own minimums
#: count when larger): (conversations, source pane, documents).
SIDEBAR_MIN_WIDTH, PANE_MIN_WIDTH, DOCUMENTS_MIN_WIDTH = 180, 280, 220


def make_room(sizes: Sequence[int], width: int, minimums: Sequence[int]) -> list[int]:
    """Splitter sizes (conversations, chat, source, documents) that make room for a source
    pane `width` wide while the chat keeps `CHAT_MIN_WIDTH`: the chat gives what it has
    above that, then the documents and the conversations down to their minimums
    (`minimums`: the widgets' own, raised to this module's floors), then the pane gets less,
    down to its minimum; only then do the documents fold away, and last the conversations.
    The chat goes under its minimum only when everything else is folded."""
    total = sum(sizes)
    floors = (max(minimums[0], SIDEBAR_MIN_WIDTH), max(minimums[2], PANE_MIN_WIDTH),
              max(minimums[3], DOCUMENTS_MIN_WIDTH))  # fmt: skip
    left, docs = sizes[0], sizes[3]
    room = total - CHAT_MIN_WIDTH  # for the conversations, the pane and the documents
    for shrink in ("documents", "conversations"):
        if left + width + docs <= room:
            break
        over = left + width + docs - room
        if shrink == "documents":
            docs = max(docs - over, min(docs, floors[2]))
        else:
            left = max(left - over, min(left, floors[0]))
    pane = max(min(width, room - left - docs), floors[1])
    if left + pane + docs > room:
        docs = 0  # fold the documents away rather than squeeze the chat
    if left + pane + docs > room:
        left = 0
    pane = max(min(width, room - left - docs), floors[1])
    return [left, total - left - pane - docs, pane, docs]


def minimum_width(widget: QWidget) -> int:
    """The narrowest a splitter lets `widget` be (its explicit minimum, else its hint)."""
    return widget.minimumWidth() or widget.minimumSizeHint().width()
