"""Decide, honestly, whether the whole documents fit in the model's view.

Whole-document mode when the system prompt, every document, room for the
conversation and the longest answer fit in the context this machine can hold
(its RAM/VRAM against the model's KV and recurrent bytes per token, capped by
the model's training context). Otherwise retrieval mode: each question gets
the most relevant passages, with their page locators, and the user is told
so with the numbers. Nothing is ever truncated silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from desktop_app.core.chat.conversation import Attachment, document_block
from desktop_app.core.documents.model import Document
from desktop_app.core.hardware import Hardware
from desktop_app.core.llm.placement import fit_context, max_context
from desktop_app.core.models.gguf_header import ModelInfo

#: Tokens kept free for follow-up questions and earlier answers.
CONVERSATION_ROOM = 2048
#: Tokens of passages given with each question in retrieval mode. Bounded
#: because every question re-reads its passages: on a laptop CPU that reads a
#: few hundred tokens per second, 6K tokens is already several seconds.
PASSAGE_BUDGET = 6144
#: The chat template's markup around the system message and documents.
TEMPLATE_OVERHEAD = 64
#: A document text longer than this (characters) is counted in pieces cut at spaces: one
#: tokenize call over a 50 MB text held about 1 GB more and ran 30 s that nothing could stop;
#: pieces bound the memory, and a counter that checks Cancel (retrieval.until_cancelled)
#: stops between them. Far above what any context holds whole (about a million tokens), so
#: a document that could fit is still counted in one call, exactly.
WHOLE_COUNT_CHARS = 4_000_000
PIECE_CHARS = 1_000_000


#: Who sets the largest context, in the words the plan's summary uses.
HOLDERS = {
    "machine": ("this machine can hold", "this machine holds"),
    "model": ("this model reads at most", "this model reads"),
    "server": ("the engine server reads at most", "the engine server reads"),
}


@dataclass(frozen=True)
class ContextPlan:
    mode: Literal["whole", "retrieval"]
    #: The context to load the model with.
    n_ctx: int
    #: What whole-document mode needs: system + documents + conversation + answer.
    needed_tokens: int
    #: The most that can be read: this machine's memory for this model (capped by its
    #: training context), or a remote engine server's context.
    capacity_tokens: int
    #: Tokens of each document's text as the model sees it, in order.
    document_tokens: tuple[int, ...]
    #: Retrieval mode: tokens of passages per question (0 in whole mode).
    passage_budget: int
    #: What sets `capacity_tokens`: "machine" (memory), "model" (its training context)
    #: or "server" (a remote engine's context).
    limit: Literal["machine", "model", "server"] = "machine"
    #: The context the settings asked for, when it was more than fits (then lowered).
    lowered_from: int | None = None
    #: True when the counts are estimates (a remote server that cannot count tokens).
    estimated: bool = False

    def summary(self) -> str:
        """One line for the status bar, the document card and `folio ask`."""
        text = self._summary()
        if self.estimated:
            text += " (token counts estimated: the server does not count them)"
        if self.lowered_from:
            text += (
                f"; the context setting of {self.lowered_from:,} tokens is more than "
                f"{HOLDERS[self.limit][1]}, so {self.n_ctx:,} is used"
            )
        return text

    def _summary(self) -> str:
        docs = sum(self.document_tokens)
        holder = HOLDERS[self.limit][0]
        if self.mode == "whole":
            if not self.document_tokens:
                return f"{self.n_ctx:,}-token context"
            return (
                f"whole document in view: {docs:,} tokens of documents "
                f"(needs {self.needed_tokens:,}; {holder} {self.capacity_tokens:,})"
            )
        return (
            f"needs {self.needed_tokens:,} tokens; {holder} {self.capacity_tokens:,} → "
            f"answering from the most relevant passages "
            f"(up to {self.passage_budget:,} tokens per question)"
        )


@dataclass(frozen=True)
class _Needs:
    """What the documents and the conversation need, counted once."""

    documents: tuple[int, ...]
    #: System prompt, template, conversation room and the longest answer.
    fixed: int
    total: int


def _needs(
    documents: Sequence[Document],
    count_tokens: Callable[[str], int],
    system_prompt: str,
    max_answer_tokens: int,
) -> _Needs:
    attachments = [Attachment(d.path.name, d.model_text()) for d in documents]
    doc_tokens = tuple(count_text(count_tokens, a.text) for a in attachments)
    # The block's wrapper (names, tags) counted once around empty texts, not by counting every
    # text a second time; a text's first and last token may merge with it: 2 more each.
    blank = [Attachment(a.name, "") for a in attachments]
    wrapper = count_tokens(document_block(blank)) + 2 * len(blank) if documents else 0
    fixed = count_tokens(system_prompt) + TEMPLATE_OVERHEAD + CONVERSATION_ROOM + max_answer_tokens
    return _Needs(doc_tokens, fixed, fixed + max(wrapper, 0) + sum(doc_tokens))


def count_text(count_tokens: Callable[[str], int], text: str) -> int:
    """Tokens of `text`: in one call up to WHOLE_COUNT_CHARS, else in pieces cut at a space
    (the next piece then starts with " word", as the whole text would tokenize it)."""
    if len(text) <= WHOLE_COUNT_CHARS:
        return count_tokens(text)
    total = start = 0
    while start < len(text):
        end = start + PIECE_CHARS
        if end < len(text):
            cut = text.rfind(" ", start + PIECE_CHARS // 2, end)
            end = cut if cut > start else end
        total += count_tokens(text[start:end])
        start = end
    return total


def plan_context(
    documents: Sequence[Document],
    info: ModelInfo,
    hw: Hardware,
    *,
    system_prompt: str,
    max_answer_tokens: int,
    cache_type: str,
    count_tokens: Callable[[str], int],
    n_ctx_override: int | None = None,
) -> ContextPlan:
    """Count with the model's tokenizer and choose the mode and the context size."""
    needs = _needs(documents, count_tokens, system_prompt, max_answer_tokens)
    machine = max_context(info, hw, cache_type)
    capacity = machine if n_ctx_override is None else min(machine, n_ctx_override)
    model_limited = info.n_ctx_train > 0 and capacity >= info.n_ctx_train
    capacity = min(capacity, info.n_ctx_train) if info.n_ctx_train > 0 else capacity
    # A context set by hand is used as set, but never beyond what fits: a bigger one would
    # fail to load, or load and then swap.
    lowered = n_ctx_override if n_ctx_override and n_ctx_override > capacity else None
    override = min(n_ctx_override, capacity) if n_ctx_override else None
    mode = "whole" if needs.total <= capacity else "retrieval"
    budget = 0 if mode == "whole" else max(0, min(PASSAGE_BUDGET, capacity - needs.fixed))
    wanted = needs.total if mode == "whole" else needs.fixed + budget
    n_ctx = override or min(fit_context(info, wanted), capacity)
    return ContextPlan(mode, n_ctx, needs.total, capacity, needs.documents, budget,
                       "model" if model_limited else "machine", lowered)  # fmt: skip


def plan_remote(
    documents: Sequence[Document],
    n_ctx: int,
    *,
    system_prompt: str,
    max_answer_tokens: int,
    count_tokens: Callable[[str], int],
    estimated: bool,
) -> ContextPlan:
    """The plan for a remote engine server, whose context (`n_ctx`) is fixed by it."""
    needs = _needs(documents, count_tokens, system_prompt, max_answer_tokens)
    mode = "whole" if needs.total <= n_ctx else "retrieval"
    budget = 0 if mode == "whole" else max(0, min(PASSAGE_BUDGET, n_ctx - needs.fixed))
    return ContextPlan(mode, n_ctx, needs.total, n_ctx, needs.documents, budget, "server",
                       estimated=estimated)  # fmt: skip
