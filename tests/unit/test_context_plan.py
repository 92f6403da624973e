"""The whole-document vs retrieval decision, with numbers, and retrieval itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.chat.context_plan import CONVERSATION_ROOM, PASSAGE_BUDGET, plan_context
from desktop_app.core.chat.retrieval import PassageIndex, fts_query
from desktop_app.core.documents.model import Document, Unit
from desktop_app.core.hardware import Hardware
from desktop_app.core.llm.placement import GiB
from desktop_app.core.llm.tokenizer import VocabOnly
from desktop_app.core.models.gguf_header import read_model_info

MACHINE = Hardware(
    physical_cores=4, logical_cores=8, ram_total_bytes=16 * GiB, ram_available_bytes=12 * GiB,
    gpu_offload=False, gpus=(),
)  # fmt: skip


def contract(n_pages: int) -> Document:
    units = tuple(
        Unit(
            "page",
            n,
            None,
            f"Clause {n}. The fee for item {n} is {n * 7} euros. " + "Filler. " * 60,
        )
        for n in range(1, n_pages + 1)
    )
    return Document(Path(f"contract-{n_pages}.pdf"), "0" * 64, "Contract", "pdf", units)


@pytest.fixture(scope="module")
def info(smollm2_gguf: Path):
    return read_model_info(smollm2_gguf)


@pytest.fixture(scope="module")
def vocab(smollm2_gguf: Path):
    with VocabOnly(smollm2_gguf) as v:
        yield v


def plan(docs, info, vocab, hw=MACHINE, **kw):
    args = dict(system_prompt="Be careful.", max_answer_tokens=1024, cache_type="f16",
                count_tokens=vocab.count)  # fmt: skip
    args.update(kw)
    return plan_context(docs, info, hw, **args)


def test_small_document_is_read_whole_with_exact_counts(info, vocab):
    doc = contract(3)
    p = plan([doc], info, vocab)
    assert p.mode == "whole"
    assert p.document_tokens == (vocab.count(doc.model_text()),)
    assert p.needed_tokens > p.document_tokens[0] + CONVERSATION_ROOM + 1024
    assert p.needed_tokens <= p.n_ctx <= info.n_ctx_train
    assert p.passage_budget == 0
    # Each number says what it counts; the context is the one loaded.
    assert p.summary() == (
        f"whole document in view: {p.document_tokens[0]:,} tokens of documents; "
        f"{p.needed_tokens:,} with the system prompt, room for follow-ups and the longest "
        f"answer; context {p.n_ctx:,} tokens (this model reads at most 8,192)"
    )
    # A card says how its document reaches the model, not the combined totals.
    assert p.verdict() == "whole document in view"


def test_document_longer_than_the_model_reads_goes_to_retrieval(info, vocab):
    doc = contract(120)  # ~ 120 * 100 tokens > SmolLM2's 8,192
    p = plan([doc], info, vocab)
    assert p.mode == "retrieval"
    assert p.needed_tokens > p.capacity_tokens == info.n_ctx_train
    assert p.limit == "model"
    assert 0 < p.passage_budget <= PASSAGE_BUDGET
    assert p.n_ctx <= p.capacity_tokens
    assert p.summary() == (
        f"the documents ({p.document_tokens[0]:,} tokens) need {p.needed_tokens:,} with the "
        "system prompt, room for follow-ups and the longest answer; this model reads at most "
        f"8,192 → answering from the most relevant passages (up to {p.passage_budget:,} "
        f"tokens per question); context {p.n_ctx:,} tokens"
    )
    assert p.verdict() == "too long to read whole: each question gets the most relevant passages"


def test_small_machine_is_the_limit(info, vocab):
    tiny = replace(MACHINE, ram_available_bytes=int(1.7 * GiB))
    doc = contract(60)
    p = plan([doc], info, vocab, hw=tiny)
    assert p.capacity_tokens < info.n_ctx_train
    assert p.mode == "retrieval" and p.limit == "machine"
    assert "this machine can hold" in p.summary()


def test_user_context_override_is_respected(info, vocab):
    p = plan([contract(3)], info, vocab, n_ctx_override=6144)
    assert p.n_ctx == 6144 and p.mode == "whole"
    p = plan([contract(40)], info, vocab, n_ctx_override=4096)
    assert p.n_ctx == 4096 and p.mode == "retrieval"
    # The setting, not the machine or the model, is what limits it: said so.
    assert p.limit == "setting" and "; the context setting allows 4,096 → " in p.summary()


def test_retrieval_finds_the_right_page_within_budget(vocab):
    doc = contract(300)
    index = PassageIndex([doc], vocab.count)
    passages = index.search("What is the fee for item 217?", budget_tokens=1500)
    assert passages, "something must be retrieved"
    assert sum(p.tokens for p in passages) <= 1500
    assert any("[Page 217]" == p.locator and "1519 euros" in p.text for p in passages)
    assert [p.order for p in passages] == sorted(p.order for p in passages)
    rendered = passages[0].render()
    assert rendered.startswith('<passage source="contract-300.pdf, [Page')


def test_question_without_matching_words_gets_the_opening(vocab):
    index = PassageIndex([contract(10)], vocab.count)
    passages = index.search("summarise?", budget_tokens=400)
    assert passages and passages[0].locator == "[Page 1]"


def test_fts_query_quotes_terms():
    # Quotes neutralise FTS5 syntax; stop words and single letters are dropped.
    assert fts_query('What is "clause" 7 OR NOT x?') == '"7" OR "clause" OR "not"'
    assert fts_query("the of and") == ""


def test_a_context_setting_beyond_the_machine_is_lowered_and_said(info, vocab):
    small = replace(MACHINE, ram_available_bytes=int(1.7 * GiB))
    capacity = plan([contract(3)], info, vocab, hw=small).capacity_tokens
    p = plan([contract(3)], info, vocab, hw=small, n_ctx_override=capacity * 4)
    assert p.n_ctx == capacity
    assert f"the context setting of {capacity * 4:,} tokens is more than this machine holds" in (
        p.summary()
    )


def test_unknown_memory_is_not_zero_memory(info, vocab):
    """A machine that does not report its RAM (0) must not get a context of 0 tokens."""
    unknown = replace(MACHINE, ram_total_bytes=0, ram_available_bytes=0)
    p = plan([contract(3)], info, vocab, hw=unknown)
    assert p.mode == "whole" and p.n_ctx >= p.needed_tokens > 0


def test_a_long_text_is_counted_in_pieces_cut_at_spaces_and_cancel_stops_between_them():
    """A 16 MB one-paragraph text: never tokenized in one call (about 1 GB more at 50 MB, and
    nothing could stop it), the pieces cut where the whole text would split its words."""
    import threading

    from desktop_app.core.chat.context_plan import PIECE_CHARS, count_text
    from desktop_app.core.chat.retrieval import STOPPED, IndexCancelled, until_cancelled

    text = " ".join(f"word{i % 977}" for i in range(2_000_000))  # 16 MB, no newline
    assert len(text) > 15_000_000
    pieces: list[int] = []

    def words(piece: str) -> int:
        pieces.append(len(piece))
        return len(piece.split())

    assert count_text(words, text) == 2_000_000  # no word cut in two
    assert len(pieces) == 16 and max(pieces) <= PIECE_CHARS
    cancel = threading.Event()

    def cancel_after_two(piece: str) -> int:
        counted = words(piece)
        if len(pieces) == 2:
            cancel.set()  # Quit pressed while the second piece was counted
        return counted

    pieces.clear()
    with pytest.raises(IndexCancelled, match=STOPPED):
        count_text(until_cancelled(cancel_after_two, cancel), text)
    assert len(pieces) == 2
