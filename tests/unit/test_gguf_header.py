"""read_model_info: metadata, memory formulas and user-facing errors, without llama.cpp."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.models.gguf_header import SUPPORTED_ARCHITECTURES, ModelInfo, read_model_info
from desktop_app.errors import ModelFileError
from tests.fixtures.gguf_factory import (
    write_minimal,
    write_tiny_qwen35,
    write_truncated,
    write_unknown_arch,
)


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf: Path) -> ModelInfo:
    return read_model_info(smollm2_gguf)


def test_smollm2_identity(smollm2: ModelInfo, smollm2_gguf: Path) -> None:
    assert smollm2.architecture == "llama"
    assert smollm2.size_label == "135M"
    assert smollm2.quantization == "Q4_1"
    assert smollm2.n_ctx_train == 8192
    assert 130e6 < smollm2.n_params < 140e6
    assert smollm2.file_size == smollm2_gguf.stat().st_size
    assert smollm2.n_vocab == 49152
    assert "<|im_start|>" in (smollm2.chat_template or "")
    assert (smollm2.bos_token_id, smollm2.eos_token_id) == (1, 2)


def test_smollm2_is_attention_only(smollm2: ModelInfo) -> None:
    assert (smollm2.n_layer, smollm2.n_attention_layers, smollm2.n_recurrent_layers) == (30, 30, 0)
    assert not smollm2.is_hybrid and not smollm2.is_recurrent
    assert smollm2.recurrent_state_bytes == 0


def test_smollm2_kv_bytes_by_hand(smollm2: ModelInfo) -> None:
    # llama.block_count 30, embedding_length 576, head_count 9, head_count_kv 3:
    # head_dim 576/9 = 64; K and V rows are 64 * 3 values per layer, 2 bytes each in f16.
    assert (smollm2.n_embd, smollm2.n_head, smollm2.n_head_kv) == (576, 9, 3)
    assert smollm2.kv_bytes_per_token == 30 * 2 * (64 * 3) * 2 == 23040
    values = 23040 // 2
    assert smollm2.kv_bytes_per_token_as("f16") == 23040
    assert smollm2.kv_bytes_per_token_as("f32") == values * 4
    assert smollm2.kv_bytes_per_token_as("q8_0") == values // 32 * 34
    assert smollm2.kv_bytes_per_token_as("q4_0") == values // 32 * 18
    with pytest.raises(ValueError):
        smollm2.kv_bytes_per_token_as("q3_k")


def test_memory_estimate_covers_weights_and_cache(smollm2: ModelInfo) -> None:
    small, big = smollm2.memory_estimate(4096), smollm2.memory_estimate(8192)
    assert small > smollm2.file_size + 4096 * smollm2.kv_bytes_per_token
    assert big - small >= 4096 * smollm2.kv_bytes_per_token
    assert smollm2.memory_estimate(8192, "q8_0") < big
    # llama.cpp pads the context to a multiple of 256
    assert smollm2.memory_estimate(4000) == small


def test_reading_smollm2_is_fast(smollm2_gguf: Path) -> None:
    read_model_info(smollm2_gguf)  # warm the page cache
    start = time.perf_counter()
    read_model_info(smollm2_gguf)
    assert time.perf_counter() - start < 1.0


def test_tiny_qwen35_is_hybrid(tiny_qwen35_gguf: Path) -> None:
    info = read_model_info(tiny_qwen35_gguf)
    assert info.architecture == "qwen35"
    assert info.is_hybrid and not info.is_recurrent
    assert (info.n_layer, info.n_attention_layers, info.n_recurrent_layers) == (4, 1, 3)
    assert info.n_ctx_train == 262144
    assert info.quantization == "F32"
    assert info.eos_token_id == 2  # <|im_end|>
    assert "<|im_start|>" in (info.chat_template or "")


def test_tiny_qwen35_memory_by_hand(tiny_qwen35_gguf: Path) -> None:
    info = read_model_info(tiny_qwen35_gguf)
    # attention layer: key_length = value_length = 16, head_count_kv 2 -> (16 + 16) * 2 f16 values
    assert info.kv_bytes_per_token == 1 * (16 + 16) * 2 * 2 == 128
    # DeltaNet layer (ssm: conv_kernel 4, state_size 16, group_count 2, time_step_rank 4,
    # inner_size 64): conv state (4 - 1) * (64 + 2 * 2 * 16), ssm state 16 * 64, all f32
    per_layer = (3 * (64 + 2 * 2 * 16) + 16 * 64) * 4
    assert info.recurrent_state_bytes == 3 * per_layer == 16896


def test_attention_every_fourth_layer(tmp_path: Path) -> None:
    info = read_model_info(write_tiny_qwen35(tmp_path / "q.gguf", n_layer=8))
    assert (info.n_attention_layers, info.n_recurrent_layers) == (2, 6)
    assert info.kv_bytes_per_token == 2 * 128


def test_qwen35_and_llama_are_supported() -> None:
    assert {"qwen35", "llama", "mamba2", "rwkv7"} <= SUPPORTED_ARCHITECTURES
    assert "clip" not in SUPPORTED_ARCHITECTURES


def _error_for(path: Path) -> str:
    with pytest.raises(ModelFileError) as excinfo:
        read_model_info(path)
    message = str(excinfo.value)
    assert path.name in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _error_for(tmp_path / "gone.gguf")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "models.gguf"
    folder.mkdir()
    assert "folder" in _error_for(folder)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    assert "empty" in _error_for(empty)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + bytes(200), np.random.default_rng(1).bytes(4096), b"GG"],
    ids=["png", "random", "tiny"],
)
def test_not_a_gguf(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "picture.gguf"
    bad.write_bytes(content)
    assert "not a GGUF" in _error_for(bad)


def test_header_cut_off(tmp_path: Path, smollm2_gguf: Path) -> None:
    cut = write_truncated(smollm2_gguf, tmp_path / "cut-header.gguf", 100_000)
    assert "truncated" in _error_for(cut)


def test_tensor_data_cut_off(tmp_path: Path, tiny_qwen35_gguf: Path) -> None:
    size = tiny_qwen35_gguf.stat().st_size
    cut = write_truncated(tiny_qwen35_gguf, tmp_path / "cut-data.gguf", size - 1000)
    assert "truncated" in _error_for(cut)


def test_unknown_architecture(tmp_path: Path) -> None:
    message = _error_for(write_unknown_arch(tmp_path / "odd.gguf"))
    assert "notarealarch" in message and "not supported" in message


def test_missing_required_key(tmp_path: Path) -> None:
    path = write_minimal(tmp_path / "no-context.gguf", "llama", context_length=None)
    assert "llama.context_length" in _error_for(path)


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "v9.gguf"
    path.write_bytes(b"GGUF" + (9).to_bytes(4, "little") + bytes(16))
    assert "version 9" in _error_for(path)
