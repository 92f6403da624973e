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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop_app.core.documents.model import Document

#: Passages are cut near this many characters (roughly 250-400 tokens).
PASSAGE_CHARS = 1200

#: English stemming (so "terminate" finds "termination"), accents ignored.
_TOKENIZER = "tokenize='porter unicode61 remove_diacritics 2'"
_WORD = re.compile(r"\w+", re.UNICODE)
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

    def render(self) -> str:
        where = f"{self.document}, {self.locator}" if self.locator else self.document
        return f'<passage source="{where}">\n{self.locator}\n{self.text}\n</passage>'


def _split(text: str) -> list[str]:
    """Cut text into pieces of about PASSAGE_CHARS at paragraph (then line) breaks."""
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        while len(para) > PASSAGE_CHARS:  # one huge paragraph: cut at a line or space
            cut = max(para.rfind("\n", 0, PASSAGE_CHARS), para.rfind(" ", 0, PASSAGE_CHARS))
            cut = cut if cut > PASSAGE_CHARS // 2 else PASSAGE_CHARS
            if current:
                pieces.append(current)
                current = ""
            pieces.append(para[:cut].strip())
            para = para[cut:].strip()
        if current and len(current) + len(para) + 2 > PASSAGE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current:
        pieces.append(current)
    return pieces


def fts_query(question: str) -> str:
    """An FTS5 query OR-ing the question's meaningful words (quoted: no syntax injection)."""
    words = [w.lower() for w in _WORD.findall(question)]
    terms = sorted({w for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())})
    return " OR ".join(f'"{t}"' for t in terms)


class PassageIndex:
    """bm25 search over the passages of some documents."""

    def __init__(self, documents: Sequence[Document], count_tokens: Callable[[str], int]) -> None:
        self.passages: list[Passage] = []
        for d, doc in enumerate(documents):
            for unit in doc.units:
                for piece in _split(unit.text):
                    self.passages.append(
                        Passage(d, len(self.passages), doc.path.name, unit.locator(), piece,
                                count_tokens(piece) + 24)  # + the <passage> wrapper
                    )  # fmt: skip
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
