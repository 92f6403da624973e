"""Stop takes effect inside a long micro-batch, and the engine stays exact afterwards.

One micro-batch of the real 9B on a laptop CPU takes 10-70 s; here one big micro-batch of a
small model stands in for it (the prompt is read as a single batch). The test first reads
prompt A in full (its time is what a Stop between batches would have to wait), then stops
prompt B 0.3 s in, then reads A again: the greedy answer must match the first one exactly,
for an attention model (KV trimmed) and for a hybrid one (recurrent state restored).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from desktop_app.core.llm.engine import Engine, EngineConfig
from desktop_app.core.llm.events import Done
from desktop_app.core.llm.sampling import SamplingParams

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0.0)
#: Prompt tokens per model: enough that one batch takes over a second here.
N_PROMPT = {"smollm2_gguf": 1000, "tiny_qwen35_gguf": 7000}


def _prompt(engine: Engine, seed: str, n: int) -> list[int]:
    words = " ".join(f"{seed}{i % 97} item" for i in range(n))
    return engine.tokenize(words)[:n]


def _answer(engine: Engine, tokens: list[int], cancel: threading.Event | None = None) -> Done:
    events = engine.generate(tokens, sampling=GREEDY, max_tokens=12, cancel=cancel)
    return next(e for e in events if isinstance(e, Done))


@pytest.mark.parametrize("model", ["smollm2_gguf", "tiny_qwen35_gguf"])
def test_stop_inside_a_micro_batch_is_quick_and_exact(model: str, request) -> None:
    path: Path = request.getfixturevalue(model)
    n = N_PROMPT[model]
    engine = Engine.load(EngineConfig(model_path=path, n_ctx=n + 1024, n_batch=n + 1024))
    try:
        a, b = _prompt(engine, "alpha", n), _prompt(engine, "beta", n)
        start = time.perf_counter()
        first = _answer(engine, a)
        full_read_s = time.perf_counter() - start
        assert first.finish_reason in ("stop", "length") and first.tokens

        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        start = time.perf_counter()
        stopped = _answer(engine, b, cancel)
        stop_s = time.perf_counter() - start - 0.3
        assert stopped.finish_reason == "cancelled"
        assert stopped.stats.decode_tokens == 0
        # Without the abort callback the stop waits for the whole batch (full_read_s).
        assert full_read_s > 1.0, f"the batch is too quick to test a stop inside it ({full_read_s})"
        # The issue asks for "within about 1 s"; seen here 0.1-0.9 s depending on load.
        assert stop_s < min(1.0, full_read_s / 2), (stop_s, full_read_s)

        again = _answer(engine, a)
        assert again.tokens == first.tokens and again.answer == first.answer
    finally:
        engine.close()
