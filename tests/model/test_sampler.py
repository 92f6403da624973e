"""The C sampler chain samples what its settings say, from a real model's logits."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest

from desktop_app.core.llm.sampling import GENERIC, QWEN35_THINKING, Sampler

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llm(smollm2_gguf):
    model = llama_cpp.Llama(str(smollm2_gguf), n_ctx=256, verbose=False)
    model.eval(model.tokenize(b"The capital of France is"))
    yield model
    model.close()


def _logits(model: llama_cpp.Llama) -> np.ndarray:
    ptr = llama_cpp.llama_get_logits_ith(model.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(model.n_vocab(),)).copy()


def test_greedy_takes_the_most_likely_token(llm):
    sampler = Sampler(GENERIC.with_overrides({"temperature": 0}), llm.n_vocab())
    try:
        assert sampler.sample(llm.ctx) == int(np.argmax(_logits(llm)))
    finally:
        sampler.close()
        sampler.close()  # idempotent


def test_a_seed_repeats_and_top_k_bounds_the_choice(llm):
    logits = _logits(llm)
    top3 = set(np.argsort(logits)[-3:].tolist())
    params = QWEN35_THINKING.with_overrides({"top_k": 3, "temperature": 1.5, "seed": 7})
    draws = []
    for _ in range(2):
        sampler = Sampler(params, llm.n_vocab())
        draws.append([sampler.sample(llm.ctx) for _ in range(20)])
        sampler.close()
    assert draws[0] == draws[1]  # same seed, same logits: the same tokens
    assert set(draws[0]) <= top3 and len(set(draws[0])) > 1  # random, but only among the top 3
