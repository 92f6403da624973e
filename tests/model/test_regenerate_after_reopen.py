"""Regenerate reads one token, also once the app has reopened the conversation's session.

The window reopens a session often (switching back to a chat, a setting changed): its turns
come back as text, and before transcripts.py the prompt rebuilt from them parted from what
the context held (the answers' tokens as generated differ from their text tokenized again,
and Qwen3.5's template drops earlier reasoning), so a regenerate read the conversation
again ("Reading 380 / 381 tokens" for 15 s on the 9B model). Run through SessionHost, as
the window does, on the hybrid tiny qwen35 (its recurrent state cannot be trimmed: only a
checkpoint brings it back) and on SmolLM2 (attention only: the KV cache is trimmed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from desktop_app import settings as settings_mod
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.documents.library import DocumentLibrary, Resolved
from desktop_app.core.llm.events import Done

pytestmark = pytest.mark.model

DOC = "\n\n".join(
    f"Clause {n}. The fee for item {n} is {n * 7} euros, payable within {n + 10} days."
    for n in range(1, 30)
)
# Greedy, so that the regenerated answer can be compared token for token; no saved states
# on disk, so that nothing but the RAM checkpoints and the KV cache can spare a read.
SETTINGS = settings_mod.Settings(
    max_answer_tokens=12, sampling={"temperature": 0.0}, state_cache_gb=0.0
)


@pytest.fixture(
    params=[("tiny_qwen35_gguf", False), ("tiny_qwen35_gguf", True), ("smollm2_gguf", False)],
    ids=["qwen35", "qwen35-thinking", "smollm2"],
)
def model(request: pytest.FixtureRequest) -> tuple[Path, bool]:
    name, thinking = request.param
    return request.getfixturevalue(name), thinking


def done(events: Iterable[object]) -> Done:
    [last] = [e for e in events if isinstance(e, Done)]
    return last


def test_regenerate_after_a_reopen_reads_at_most_two_tokens(model, tmp_path: Path):
    path, thinking = model
    contract = tmp_path / "contract.txt"
    contract.write_text(DOC, encoding="utf-8")
    documents = Resolved([DocumentLibrary().read(contract)])
    host = SessionHost(path, SETTINGS)
    cancel = threading.Event()
    try:
        host.open(documents, [])
        list(host.warm_up(cancel))  # the window pre-reads the documents after opening
        first = done(host.ask("What is the fee for item 3?", thinking, cancel))
        original = done(host.ask("And the payment period for item 5?", thinking, cancel))
        # What the history store holds, as the window passes it when it reopens the chat.
        turns = [("What is the fee for item 3?", first.answer),
                 ("And the payment period for item 5?", original.answer)]  # fmt: skip
        host.open(Resolved(), [])  # another chat opened (nothing asked there)…
        host.open(documents, turns)  # …and this one again, its documents pre-read again
        list(host.warm_up(cancel))
        again = done(host.regenerate(thinking, cancel))
        assert again.stats.prefill_tokens <= 2
        assert again.stats.cached_tokens == again.stats.prompt_tokens - again.stats.prefill_tokens
        assert again.tokens == original.tokens  # the same prompt, exactly, read greedily
        # Editing the last question restores the end of the previous answer: only the new
        # question (and its template markup) is read.
        edited = done(host.edit_last("And for item 6?", thinking, cancel))
        assert edited.stats.prefill_tokens <= 30
        assert edited.stats.cached_tokens > first.stats.prompt_tokens
    finally:
        host.close()
