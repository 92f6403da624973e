"""Relevant passages for documents too long for this machine's context.

Each document unit (page or section) is cut into passages of a few hundred
tokens at paragraph boundaries, each keeping its unit's locator, and indexed
in an in-memory SQLite FTS5 table. A question's words are matched with bm25;
the best passages are taken until the token budget is spent and then put back
in document order, so the model reads them as the document runs.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from desktop_app.core.documents.model import Document

#: Passages are cut near this many characters (roughly 250-400 tokens).
PASSAGE_CHARS = 1200

#: English stemming (so "terminate" finds "termination"), accents ignored.
_TOKENIZER = "tokenize='porter unicode61 remove_diacritics 2'"
_WORD = re.compile(r"\w+", re.UNICODE)
#: A blank line between paragraphs; whitespace as `str.strip` sees it.
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_NON_SPACE = re.compile(r"\S")
#: Characters of trailing whitespace looked at per step when stripping a paragraph.
_STRIP_BLOCK = 4096
#: Words too common to help bm25 find anything (English function words).
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its me my of on "
    "or our say says tell that the their there these this to was were what when where which "
    "who whom why will with would you your".split()
)


@dataclass(frozen=True)
class Passage:
    doc_index: int
    order: int
    document: str
    locator: str
    text: str
    tokens: int
    #: The locator as the model sees it: a page read by OCR says so (`[Page 3 · OCR]`).
    heading: str = ""

    def render(self) -> str:
        where = f"{self.document}, {self.locator}" if self.locator else self.document
        shown = self.heading or self.locator
        return f'<passage source="{where}">\n{shown}\n{self.text}\n</passage>'


def _split(text: str) -> Iterator[str]:
    """Cut text into pieces of about PASSAGE_CHARS at paragraph (then line) breaks.

    Walks offsets into `text` and copies only the pieces: a 50 MB text with no blank
    line (a log, an export) is one paragraph, and re-slicing its rest after every cut
    made the time grow with the square of its size.
    """
    current = ""
    for start, end in _paragraphs(text):
        while end - start > PASSAGE_CHARS:  # one huge paragraph: cut at a line or space
            window = start + PASSAGE_CHARS
            cut = max(text.rfind("\n", start, window), text.rfind(" ", start, window))
            cut = cut if cut - start > PASSAGE_CHARS // 2 else window
            if current:
                yield current
                current = ""
            yield text[start:cut].strip()
            rest = _NON_SPACE.search(text, cut, end)
            assert rest is not None  # the paragraph's last character is not a space
            start = rest.start()
        para = text[start:end]
        if current and len(current) + len(para) + 2 > PASSAGE_CHARS:
            yield current
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current:
        yield current


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph with text, whitespace stripped: offsets, not copies."""
    start = 0
    for blank in _PARAGRAPH_BREAK.finditer(text):
        if (span := _stripped(text, start, blank.start())) is not None:
            yield span
        start = blank.end()
    if (span := _stripped(text, start, len(text))) is not None:
        yield span


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`text[start:end].strip()` as offsets, None when it is all whitespace; trailing
    whitespace is looked at a block at a time (a run of it can be megabytes long)."""
    first = _NON_SPACE.search(text, start, end)
    if first is None:
        return None
    start = first.start()
    while True:
        block = max(start, end - _STRIP_BLOCK)
        kept = len(text[block:end].rstrip())
        if kept or block == start:  # text[start] is not whitespace: ends at the latest there
            return start, block + kept
        end = block


def _passages(
    documents: Sequence[Document], count_tokens: Callable[[str], int]
) -> Iterator[Passage]:
    """Every unit of every document cut into passages, in document order."""
    order = 0
    for d, doc in enumerate(documents):
        for unit in doc.units:
            locator, heading = unit.locator(), unit.heading()
            for piece in _split(unit.text):
                # + 24: the <passage> wrapper around the piece.
                tokens = count_tokens(piece) + 24
                yield Passage(d, order, doc.path.name, locator, piece, tokens, heading)
                order += 1


def fts_query(question: str) -> str:
    """An FTS5 query OR-ing the question's meaningful words (quoted: no syntax injection)."""
    words = [w.lower() for w in _WORD.findall(question)]
    terms = sorted({w for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())})
    return " OR ".join(f'"{t}"' for t in terms)


#: Why the session is not ready after a cancelled open (counting and indexing alike).
STOPPED = "stopped while its documents were prepared"


class IndexCancelled(Exception):
    """Counting or indexing long documents was stopped on request (Cancel, Stop, Quit)."""


def until_cancelled(
    count: Callable[[str], int], cancel: threading.Event | None
) -> Callable[[str], int]:
    """`count`, raising `IndexCancelled` once `cancel` is set: tokenizing a long document
    (in pieces, see context_plan.count_text, then passage by passage for the index) is most
    of what opening it costs, so this is where Cancel and Quit stop the open."""
    if cancel is None:
        return count

    def counted(text: str) -> int:
        if cancel.is_set():
            raise IndexCancelled(STOPPED)
        return count(text)

    return counted


class PassageIndex:
    """bm25 search over the passages of some documents."""

    def __init__(self, documents: Sequence[Document], count_tokens: Callable[[str], int]) -> None:
        """Cut, count and index every passage. A 50 MB document takes seconds on the engine
        thread that Cancel and Quit wait for: give a counter from `until_cancelled`, and its
        `IndexCancelled` ends the build between two passages."""
        self.passages = list(_passages(documents, count_tokens))
        #: (document, locator) of every passage given to the model so far in this session:
        #: in retrieval mode a citation can only rest on these.
        self.sent: set[tuple[str, str]] = set()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            f"CREATE VIRTUAL TABLE passages USING fts5(text, locator UNINDEXED, {_TOKENIZER})"
        )
        self._db.executemany(
            "INSERT INTO passages(rowid, text) VALUES (?, ?)",
            ((p.order, f"{p.locator}\n{p.text}") for p in self.passages),
        )

    def search(self, question: str, budget_tokens: int) -> list[Passage]:
        """The most relevant passages that fit in `budget_tokens`, in document order.

        A question with no matching words (e.g. "summarise this") gets the
        document's opening passages: better than nothing, and honest, because
        the prompt says these are excerpts.
        """
        query = fts_query(question)
        ranked: list[int] = []
        if query:
            rows = self._db.execute(
                "SELECT rowid FROM passages WHERE passages MATCH ? ORDER BY bm25(passages)",
                (query,),
            )
            ranked = [r[0] for r in rows]
        if not ranked:
            ranked = [p.order for p in self.passages]
        chosen: list[Passage] = []
        spent = 0
        for order in ranked:
            passage = self.passages[order]
            if spent + passage.tokens > budget_tokens:
                continue
            chosen.append(passage)
            spent += passage.tokens
        self.sent.update((p.document, p.locator) for p in chosen)
        return sorted(chosen, key=lambda p: p.order)


#: Sentence ends, blank lines and list items, where a paragraph is cut for `best_sentence`.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n\s*\n|\n(?=\s*(?:[-•*]|\d+[.)])\s)")
#: A line this short that does not end a sentence is a heading ("3. Termination").
_HEADING_CHARS = 60


def _sentences(text: str) -> list[str]:
    """The sentences of a page or section, without its headings: a heading supports no
    claim, and bm25 favours its few words over the sentence that does."""
    out: list[str] = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        bare = line.strip()
        heading = bare and len(bare) < _HEADING_CHARS and bare[-1] not in ".!?;:,-"
        if block and (not bare or heading):
            out += [s.strip() for s in _SENTENCE_END.split("\n".join(block)) if s.strip()]
            block = []
        if bare and not heading:
            block.append(line)
    return out


def best_sentence(text: str, claim: str) -> str | None:
    """The sentence of `text` that best matches `claim` by bm25 (the same tokenizer as the
    passage index), for a citation that names a page but quotes nothing; None when no word
    of the claim is on the page."""
    sentences = _sentences(text)
    query = fts_query(claim)
    if not sentences or not query:
        return None
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE s USING fts5(text, {_TOKENIZER})")
        db.executemany("INSERT INTO s(rowid, text) VALUES (?, ?)", enumerate(sentences))
        row = db.execute(
            "SELECT rowid FROM s WHERE s MATCH ? ORDER BY bm25(s) LIMIT 1", (query,)
        ).fetchone()
    finally:
        db.close()
    return None if row is None else sentences[row[0]]
