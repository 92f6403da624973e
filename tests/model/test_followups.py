"""Follow-ups never re-read the document: RAM checkpoints, append-only turns, disk states.

Run on both a hybrid model (the tiny random qwen35: recurrent state that cannot
be rolled back) and an attention-only one (SmolLM2), with greedy sampling so
that "restored" and "computed from scratch" can be compared token for token.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from desktop_app import settings as settings_mod
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.llm.events import AnswerDelta, Done, PrefillProgress
from tests.support import run_folio

pytestmark = pytest.mark.model

DOC = "\n\n".join(
    f"Clause {n}. The fee for item {n} is {n * 7} euros, payable within {n + 10} days."
    for n in range(1, 40)
)
SETTINGS = settings_mod.Settings(max_answer_tokens=12, sampling={"temperature": 0.0})


@pytest.fixture(params=["tiny_qwen35_gguf", "smollm2_gguf"])
def model(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


@pytest.fixture
def doc(tmp_path: Path):
    path = tmp_path / "contract.txt"
    path.write_text(DOC, encoding="utf-8")
    return DocumentLibrary().read(path)


def ask(session: ChatSession, question: str, **kw) -> Done:
    events = list(session.ask(question, **kw))
    assert isinstance(events[-1], Done)
    return events[-1]


def test_follow_up_reads_only_the_new_question(model: Path, doc):
    session = ChatSession.open(model, SETTINGS, [doc])
    try:
        first = ask(session, "What is the fee for item 12?")
        assert first.stats.cache == "none"
        doc_tokens = session.plan.document_tokens[0]
        assert first.stats.prefill_tokens > doc_tokens
        second = ask(session, "And for item 40?")
        assert second.stats.cache == "ram"
        assert second.stats.cached_tokens >= doc_tokens + first.stats.decode_tokens - 1
        # Only the question and the template's markup around it are read.
        assert second.stats.prefill_tokens <= 30
    finally:
        session.close()


def test_ten_turns_each_read_only_their_own_tokens(model: Path, doc):
    session = ChatSession.open(model, SETTINGS, [doc])
    try:
        ask(session, "Summarise clause 1.")
        for n in range(2, 11):
            done = ask(session, f"What about clause {n}?")
            assert done.stats.prefill_tokens <= 30, f"turn {n} re-read the conversation"
            assert done.stats.cached_tokens > session.plan.document_tokens[0]
    finally:
        session.close()


def test_regenerate_restores_the_prompt_and_repeats_greedy_answer(model: Path, doc):
    session = ChatSession.open(model, SETTINGS, [doc])
    try:
        ask(session, "What is the fee for item 3?")
        original = ask(session, "And the payment period for item 5?")
        again = list(session.regenerate())[-1]
        assert again.stats.prefill_tokens == 1
        assert again.stats.cached_tokens == again.stats.prompt_tokens - 1
        assert again.tokens == original.tokens
        assert len(session.conversation.turns) == 2
        edited = list(session.edit_last("And the payment period for item 6?"))[-1]
        assert edited.stats.prefill_tokens <= 30
        assert session.conversation.turns[-1][0] == "And the payment period for item 6?"
    finally:
        session.close()


def test_restored_checkpoint_answers_exactly_like_a_fresh_read(model: Path, doc):
    """New conversation on the same document: the document-end checkpoint is restored.
    With greedy sampling the answer must equal one computed from scratch."""
    session = ChatSession.open(model, SETTINGS, [doc])
    try:
        ask(session, "What is the fee for item 7?")
        ask(session, "Anything else?")
        session.new_conversation()
        restored = ask(session, "What is the fee for item 33?")
        assert restored.stats.cached_tokens >= session.plan.document_tokens[0]
        assert restored.stats.prefill_tokens <= 30
    finally:
        session.close()
    fresh_settings = SETTINGS.replace(state_cache_gb=0.0)  # no disk: really from scratch
    fresh = ChatSession.open(model, fresh_settings, [doc])
    try:
        scratch = ask(fresh, "What is the fee for item 33?")
        assert scratch.stats.cached_tokens == 0
        assert scratch.tokens == restored.tokens
    finally:
        fresh.close()


def test_a_new_session_loads_the_document_state_from_disk(model: Path, doc):
    first = ChatSession.open(model, SETTINGS, [doc])
    try:
        reference = ask(first, "What is the fee for item 21?")
    finally:
        first.close()
    second = ChatSession.open(model, SETTINGS, [doc])
    try:
        done = ask(second, "What is the fee for item 21?")
        assert done.stats.cache == "disk"
        assert done.stats.cached_tokens >= second.plan.document_tokens[0]
        assert done.tokens == reference.tokens
    finally:
        second.close()


def test_cancel_during_prefill_then_ask_again(model: Path, doc):
    session = ChatSession.open(model, SETTINGS.replace(state_cache_gb=0.0), [doc])
    try:
        cancel = threading.Event()
        events = []
        for event in session.ask("What is the fee for item 2?", cancel=cancel):
            events.append(event)
            if isinstance(event, PrefillProgress):
                cancel.set()
        done = events[-1]
        assert done.finish_reason == "cancelled"
        progress = [e for e in events if isinstance(e, PrefillProgress)]
        assert len(progress) == 1, "stopped within one micro-batch"
        assert progress[0].done < progress[0].total
        assert not any(isinstance(e, AnswerDelta) for e in events)
        after = ask(session, "What is the fee for item 2?")
        assert after.finish_reason in ("stop", "length") and after.stats.decode_tokens >= 1
    finally:
        session.close()


def test_cli_second_process_reports_disk(tmp_path: Path, folio_home: Path, smollm2_gguf: Path):
    settings_mod.save(SETTINGS)
    path = tmp_path / "contract.txt"
    path.write_text(DOC, encoding="utf-8")
    args = ("ask", str(path), "--model", str(smollm2_gguf), "-q", "Fee for item 9?", "--stats")
    first = run_folio(*args, home=folio_home)
    second = run_folio(*args, home=folio_home)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    stats = [json.loads(r.stderr.strip().splitlines()[-1]) for r in (first, second)]
    # The first process pre-read the document (as the window does) and answered from that
    # checkpoint; the second found the document's state on disk and read only the question.
    assert stats[0]["cache"] == "ram" and stats[1]["cache"] == "disk"
    assert stats[1]["prefill_tokens"] < stats[1]["prompt_tokens"] / 10


def test_warm_up_reads_the_documents_before_the_question(model: Path, doc):
    session = ChatSession.open(model, SETTINGS.replace(state_cache_gb=0.0), [doc])
    try:
        progress = list(session.warm_up())
        assert progress and progress[-1].done == progress[-1].total
        assert progress[-1].total >= session.plan.document_tokens[0]
        done = ask(session, "What is the fee for item 4?")
        assert done.stats.prefill_tokens <= 30
    finally:
        session.close()


def test_switching_conversations_reuses_the_loaded_engine(model: Path, doc):
    first = ChatSession.open(model, SETTINGS, [doc])
    engine = first.engine
    second = ChatSession.open(model, SETTINGS, [], engine=engine, turns=[("Hi.", "Hello.")])
    try:
        assert second.engine is engine
        done = ask(second, "What did I say first?")
        assert done.stats.prompt_tokens > 20 and len(second.conversation.turns) == 2
        other = ChatSession.open(model, SETTINGS.replace(n_threads=1), [], engine=engine)
        assert other.engine is not engine, "different settings need a new engine"
        other.close()
    finally:
        second.close()


def test_continue_goes_on_exactly_where_the_answer_was_cut_off(smollm2_gguf: Path, doc):
    """Greedy: 12 tokens, cut off, then Continue for 12 more reads as the 24-token answer."""
    question = "List the fees of items 1 to 20, one per line."
    longer = ChatSession.open(smollm2_gguf, SETTINGS.replace(max_answer_tokens=24), [doc])
    try:
        whole = ask(longer, question)
    finally:
        longer.close()
    session = ChatSession.open(smollm2_gguf, SETTINGS, [doc])
    try:
        cut = ask(session, question)
        assert cut.finish_reason == "length"
        [rest] = [e for e in session.continue_last() if isinstance(e, Done)]
        # Word for word what the uninterrupted answer said. (The cut text re-tokenized can
        # take a token fewer than it was generated in, so 12 more tokens may reach further.)
        continued = cut.answer + rest.answer
        assert continued.startswith(whole.answer) and len(continued) < len(whole.answer) + 8
        # The turn is the whole answer, so a follow-up builds on all of it.
        assert session.conversation.turns[-1] == (question, continued)
        assert rest.stats.prefill_tokens < 30  # the document was not read again
    finally:
        session.close()
