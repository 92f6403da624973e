"""What each conversation's context read, token for token, kept as long as its engine lives.

The app reopens a conversation's session often (switching back to it, a setting changed,
an answer that a reopen waited for), and a reopened session starts from the turns as text.
Rendered again, earlier answers are not the tokens the model read: Qwen3.5's template drops
their reasoning, and text tokenized again can split differently. The prompt then parts from
what the context holds early, so a regenerate read the conversation again (seen: "Reading
380 / 381 tokens" for 15 s on a 9B model), and on a hybrid model, whose recurrent state
cannot be trimmed, from the last checkpoint before that point. Kept here, the exact tokens
let a reopened session build the very prompt the context read: a regenerate then restores
the checkpoint before the question's last token and reads one token, an edit of the last
question restores the end of the previous answer and reads only the new question.

A transcript is found by what it is a transcript of, the system message (documents
included) and the turns: exactly what the reopened session is given.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

#: Conversations remembered per engine (least recently used forgotten first). 4 bytes a
#: token: 16 full 262K-token contexts take 16 MB.
KEPT = 16


@dataclass(frozen=True)
class Transcript:
    #: The conversation's tokens as read and generated, through the last answer.
    tokens: array
    #: Where each turn's tokens start in `tokens`.
    turn_starts: tuple[int, ...]
    #: Where the document block ends (None: no documents, or not known).
    doc_end: int | None


def key(system: str, turns: Sequence[tuple[str, str]]) -> str:
    """What a transcript is of: the system message and the turns, as text."""
    return hashlib.sha256(json.dumps([system, list(turns)]).encode()).hexdigest()


class Transcripts:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._items: OrderedDict[str, Transcript] = OrderedDict()

    def remember(
        self, at: str, tokens: Sequence[int], turn_starts: Sequence[int], doc_end: int | None
    ) -> None:
        self._items[at] = Transcript(array("i", tokens), tuple(turn_starts), doc_end)
        self._items.move_to_end(at)
        while len(self._items) > self._kept:
            self._items.popitem(last=False)

    def find(self, at: str) -> Transcript | None:
        found = self._items.get(at)
        if found is not None:
            self._items.move_to_end(at)
        return found


_BY_ENGINE: weakref.WeakKeyDictionary[object, Transcripts] = weakref.WeakKeyDictionary()


def of(engine: object) -> Transcripts:
    """The transcripts of what `engine`'s context read: they are worth something only
    while that context (and its checkpoints) lives, so they go with the engine."""
    found = _BY_ENGINE.get(engine)
    if found is None:
        found = _BY_ENGINE[engine] = Transcripts()
    return found
