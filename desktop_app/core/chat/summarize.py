"""Summarize one document, whole when it fits, in parts when it does not, and say which.

A summary that silently covered the first half of a contract would be worse than none, so a
document longer than the context is never cut: its units (pages, sections) are grouped into
parts that each fit, each part is summarized with its locators, and the part summaries are
combined. The result says how it was made ("in 3 parts: pages 1-40, 41-80, 81-97").
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.chat.context_plan import CONVERSATION_ROOM
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents.model import Document, Unit
from desktop_app.core.llm.engine import Engine
from desktop_app.core.llm.events import AnswerDelta, Done, PrefillProgress
from desktop_app.errors import FolioError
from desktop_app.settings import Settings

SYSTEM_PROMPT = "Summarize documents concisely. Preserve key numbers, dates, and decisions."
PROMPT = "Summarize this document."
#: Room kept in each part for the prompt and the template, beyond the text and the answer.
PART_OVERHEAD_TOKENS = 512
#: A summary's length limit: a summary is short, and each part's answer must leave room.
SUMMARY_TOKENS = 1024
#: Parts smaller than this would be summaries of fragments: ask for a larger context.
MIN_PART_TOKENS = 512


@dataclass(frozen=True)
class Summary:
    text: str
    #: How it was made, for the reader: "" when the whole document was read at once.
    method: str
    finish_reason: str


class Summarizer:
    """Summarizes documents one after another with one loaded engine (reused when it fits)."""

    def __init__(self, model_path: Path, settings: Settings, prompt: str = PROMPT) -> None:
        self._model_path = model_path
        self._settings = settings.replace(
            system_prompt=SYSTEM_PROMPT,
            max_answer_tokens=min(settings.max_answer_tokens, SUMMARY_TOKENS),
        )
        self._prompt = prompt
        self._engine: Engine | None = None

    def summarize(
        self,
        doc: Document,
        progress: Callable[[PrefillProgress], None] = lambda p: None,
        cancel: threading.Event | None = None,
    ) -> Summary:
        session = self._open([doc])
        if session.plan.mode == "whole":
            return self._ask(session, self._prompt, progress, cancel)
        # Each part must pass the same plan as a whole document (its room for a conversation
        # included), or it would be answered from passages in turn.
        budget = (session.plan.n_ctx - self._settings.max_answer_tokens - CONVERSATION_ROOM
                  - PART_OVERHEAD_TOKENS)  # fmt: skip
        if budget < MIN_PART_TOKENS:
            raise FolioError(
                f"{doc.path.name} does not fit a {session.plan.n_ctx:,}-token context, which is "
                "too small to summarize it in parts; use a larger context (--ctx)."
            )
        parts = split_units(doc.units, session.engine.count_tokens, budget)
        summaries = []
        for i, units in enumerate(parts, 1):
            part = dataclasses.replace(doc, units=tuple(units))
            done = self._ask(self._open([part]), f"{self._prompt} (This is part {i} of "
                             f"{len(parts)}: {span(units)}.)", progress, cancel)  # fmt: skip
            if done.finish_reason == "cancelled":
                return done
            summaries.append(Unit("section", None, f"Part {i} ({span(units)})", done.text))
        # The part summaries are the document now, so the context is sized for them.
        digest = dataclasses.replace(doc, sha256=f"{doc.sha256}-parts", type="text",
                                     units=tuple(summaries))  # fmt: skip
        combined = self._ask(
            self._open([digest]),
            f"These are summaries of the {len(parts)} parts of one document, in order. "
            f"{self._prompt} Combine them into one summary of the whole document, keeping "
            "page or section references.",
            progress,
            cancel,
        )
        method = f"in {len(parts)} parts ({', '.join(span(u) for u in parts)}), then combined"
        return dataclasses.replace(combined, method=method)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _open(self, docs: Sequence[Document]) -> ChatSession:
        session = ChatSession.open(self._model_path, self._settings, docs, engine=self._engine)
        self._engine = session.engine
        return session

    @staticmethod
    def _ask(session, question, progress, cancel) -> Summary:
        text: list[str] = []
        done: Done | None = None
        for event in session.ask(question, thinking=False, cancel=cancel):
            if isinstance(event, PrefillProgress):
                progress(event)
            elif isinstance(event, AnswerDelta):
                text.append(event.text)
            elif isinstance(event, Done):
                done = event
        assert done is not None
        return Summary("".join(text).strip(), "", done.finish_reason)


def split_units(
    units: Sequence[Unit], count: Callable[[str], int], budget: int
) -> list[list[Unit]]:
    """Group consecutive units into parts of at most `budget` tokens; a unit larger than a
    part is split into pieces (same locator), never dropped."""
    parts: list[list[Unit]] = [[]]
    used = 0
    for unit in _pieces(units, count, budget):
        tokens = count(unit.text) + 8  # its locator line
        if parts[-1] and used + tokens > budget:
            parts.append([])
            used = 0
        parts[-1].append(unit)
        used += tokens
    return [p for p in parts if p]


def _pieces(units: Sequence[Unit], count: Callable[[str], int], budget: int) -> Iterator[Unit]:
    room = budget - 8  # a piece still carries its locator line
    for unit in units:
        tokens = count(unit.text)
        if tokens <= room:
            yield unit
            continue
        n = -(-tokens // room) + 1  # ceil, plus one: pieces cut at spaces run a little long
        text, step, start = unit.text, -(-len(unit.text) // n), 0
        while start < len(text):
            end = text.find(" ", start + step)  # cut between words, never inside one
            end = len(text) if end < 0 else end + 1
            yield dataclasses.replace(unit, text=text[start:end])
            start = end


def span(units: Sequence[Unit]) -> str:
    """'pages 1-40', 'page 7', or the first and last section headings."""
    first, last = units[0], units[-1]
    if first.kind == "page":
        a, b = first.label or first.number, last.label or last.number
        return f"page {a}" if a == b else f"pages {a}-{b}"
    a, b = first.label or "the start", last.label or "the start"
    return f"§ {a}" if a == b else f"§ {a} to § {b}"
