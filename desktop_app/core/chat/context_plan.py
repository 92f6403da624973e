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
    "setting": ("the context setting allows", "the context setting allows"),
    "server": ("the engine server reads at most", "the engine server reads"),
}
#: What `needed_tokens` adds to the documents, in the words the summary uses.
AROUND_DOCUMENTS = "the system prompt, room for follow-ups and the longest answer"


@dataclass(frozen=True)
class Capacity:
    """The largest context for a model here, and what sets it."""

    tokens: int
    #: "machine" (its memory for this model) or "model" (its training context).
    limit: Literal["machine", "model"]


def capacity(info: ModelInfo, hw: Hardware, cache_type: str) -> Capacity:
    """The most this machine can read with this model: its memory, capped by the model's
    training context (one source for the plan, the Settings dialog and the cards)."""
    machine = max_context(info, hw, cache_type)
    if info.n_ctx_train > 0 and machine >= info.n_ctx_train:
        return Capacity(info.n_ctx_train, "model")
    return Capacity(machine, "machine")


#: Why a `Capacity` is what it is, in the words the Settings dialog uses.
LIMIT_REASONS = {
    "model": "what this model was trained for",
    "machine": "what this machine's memory holds for this model",
}


def auto_context(info: ModelInfo, hw: Hardware, cache_type: str) -> tuple[int, str]:
    """What the Auto context setting loads for a chat without documents, and what it does,
    in words for the Settings dialog: never more than the model was trained for."""
    most = capacity(info, hw, cache_type)
    chat = min(fit_context(info, 0), most.tokens)
    reason = LIMIT_REASONS[most.limit]
    if chat >= most.tokens:
        return chat, f"Auto uses {chat:,} tokens: {reason}."
    return chat, (
        f"Auto uses {chat:,} tokens for a chat, more when documents need it, "
        f"up to {most.tokens:,}: {reason}."
    )


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
    #: What sets `capacity_tokens`: "machine" (memory), "model" (its training context),
    #: "setting" (a context length set by hand) or "server" (a remote engine's context).
    limit: Literal["machine", "model", "setting", "server"] = "machine"
    #: The context the settings asked for, when it was more than fits (then lowered).
    lowered_from: int | None = None
    #: True when the counts are estimates (a remote server that cannot count tokens).
    estimated: bool = False

    def summary(self) -> str:
        """The plan line, shown once (status bar, `folio ask`): each number says what it
        counts, and the context is the one loaded (what the status bar's meter fills)."""
        text = self._summary()
        if self.estimated:
            text += " (token counts estimated: the server does not count them)"
        if self.lowered_from:
            text += (
                f"; the context setting of {self.lowered_from:,} tokens is more than "
                f"{HOLDERS[self.limit][1]}, so {self.n_ctx:,} is used"
            )
        return text

    def verdict(self) -> str:
        """What every document's card says: how the documents reach the model, without the
        combined totals (those are in `summary`, once)."""
        if self.mode == "whole":
            return "whole document in view"
        return "too long to read whole: each question gets the most relevant passages"

    def _summary(self) -> str:
        docs = sum(self.document_tokens)
        limit = f"{HOLDERS[self.limit][0]} {self.capacity_tokens:,}"
        context = f"context {self.n_ctx:,} tokens"
        if self.mode == "whole":
            if not self.document_tokens:
                return f"{context} ({limit})"
            return (
                f"whole document in view: {docs:,} tokens of documents; "
                f"{self.needed_tokens:,} with {AROUND_DOCUMENTS}; {context} ({limit})"
            )
        return (
            f"the documents ({docs:,} tokens) need {self.needed_tokens:,} with "
            f"{AROUND_DOCUMENTS}; {limit} → answering from the most relevant passages "
            f"(up to {self.passage_budget:,} tokens per question); {context}"
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
    most = capacity(info, hw, cache_type)
    limit: Literal["machine", "model", "setting"] = most.limit
    most_tokens, lowered = most.tokens, None
    # A context set by hand is used as set, but never beyond what fits: a bigger one would
    # fail to load, or load and then swap.
    if n_ctx_override and n_ctx_override > most_tokens:
        lowered = n_ctx_override
    elif n_ctx_override and n_ctx_override < most_tokens:
        limit, most_tokens = "setting", n_ctx_override
    mode = "whole" if needs.total <= most_tokens else "retrieval"
    budget = 0 if mode == "whole" else max(0, min(PASSAGE_BUDGET, most_tokens - needs.fixed))
    wanted = needs.total if mode == "whole" else needs.fixed + budget
    n_ctx = most_tokens if n_ctx_override else min(fit_context(info, wanted), most_tokens)
    return ContextPlan(mode, n_ctx, needs.total, most_tokens, needs.documents, budget, limit,
                       lowered)  # fmt: skip


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
