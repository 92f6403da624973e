"""The tiny Qwen3.5 fixture really runs in llama.cpp, and model_files' memory maths agree.

The second point is what makes the placement and context-size decisions
trustworthy: llama.cpp's own per-sequence state size is compared with
`kv_bytes_per_token` and `recurrent_state_bytes` computed from the header.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from desktop_app.core.models.gguf_header import read_model_info

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llm(tiny_qwen35_gguf: Path) -> Iterator[llama_cpp.Llama]:
    model = llama_cpp.Llama(str(tiny_qwen35_gguf), n_ctx=512, verbose=False)
    yield model
    model.close()


def _last_logits(model: llama_cpp.Llama) -> np.ndarray:
    ptr = llama_cpp.llama_get_logits_ith(model.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(model.n_vocab(),)).copy()


def _clear(model: llama_cpp.Llama) -> None:
    """Forget the sequence: recurrent state cannot be rewound, only cleared."""
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(model.ctx), True)
    model.reset()


def test_loads_as_hybrid(llm: llama_cpp.Llama) -> None:
    assert llama_cpp.llama_model_is_hybrid(llm.model)
    assert not llama_cpp.llama_model_is_recurrent(llm.model)
    assert llm.n_vocab() == 49152


def test_chatml_special_tokens(llm: llama_cpp.Llama, tiny_qwen35_gguf: Path) -> None:
    info = read_model_info(tiny_qwen35_gguf)
    tokens = llm.tokenize(b"<|im_start|>user\nhi<|im_end|>", add_bos=False, special=True)
    assert tokens[0] == info.bos_token_id == llm.token_bos()
    assert tokens[-1] == info.eos_token_id == llm.token_eos()
    assert len(tokens) <= 6  # the markers are single tokens, not spelled out


def test_evaluates_and_samples(llm: llama_cpp.Llama) -> None:
    _clear(llm)
    llm.eval(llm.tokenize(b"<|im_start|>user\nhi<|im_end|>\n", add_bos=False, special=True))
    for _ in range(4):
        logits = _last_logits(llm)
        assert np.isfinite(logits).all() and logits.std() > 0
        token = llm.sample(temp=0.8, top_k=40)
        assert 0 <= token < llm.n_vocab()
        llm.eval([token])


# llama.cpp's sequence state (llama-kv-cache.cpp / llama-memory-recurrent.cpp state_write)
# is the raw cache rows plus small headers: per token, position + seq ids (+ 12 bytes of
# M-RoPE cell extension for qwen35); per layer, a type and row size for each tensor.
_PER_TOKEN_OVERHEAD = 32
_PER_LAYER_OVERHEAD = 4 * 12


@pytest.mark.parametrize("fixture", ["tiny_qwen35_gguf", "smollm2_gguf"])
def test_state_size_matches_model_files(fixture: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    info = read_model_info(path)
    model = llama_cpp.Llama(str(path), n_ctx=512, verbose=False)
    try:
        model.eval(list(range(100, 108)))
        at_8 = llama_cpp.llama_state_seq_get_size(model.ctx, 0)
        model.eval(list(range(108, 140)))
        at_40 = llama_cpp.llama_state_seq_get_size(model.ctx, 0)
    finally:
        model.close()
    per_token = (at_40 - at_8) // 32
    assert 0 <= per_token - info.kv_bytes_per_token <= _PER_TOKEN_OVERHEAD
    fixed = at_8 - 8 * per_token
    headers = 64 + _PER_LAYER_OVERHEAD * info.n_layer
    assert 0 <= fixed - info.recurrent_state_bytes <= headers
