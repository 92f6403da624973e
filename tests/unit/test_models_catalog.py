"""The download catalog's memory estimates and the model it recommends per machine."""

from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.hardware import GpuDevice, Hardware
from desktop_app.core.llm.placement import RAM_HEADROOM, GiB
from desktop_app.core.models.catalog import (
    CATALOG,
    MAX_CONTEXT,
    USEFUL_CONTEXT,
    _deltanet_state_bytes,
    fit,
    memory_needed,
    recommend,
)
from desktop_app.core.models.gguf_header import read_model_info
from tests.fixtures.gguf_factory import write_tiny_qwen35

NINE_B = CATALOG[0]

LAPTOP_8GB = Hardware(
    physical_cores=4,
    logical_cores=8,
    ram_total_bytes=8 * GiB,
    ram_available_bytes=6 * GiB,
    gpu_offload=False,
    gpus=(),
)
DESKTOP_16GB = replace(LAPTOP_8GB, ram_total_bytes=16 * GiB, ram_available_bytes=12 * GiB)


def with_gpu(free: int) -> Hardware:
    gpu = GpuDevice(
        name="CUDA0", description="Test GPU", kind="gpu", free_bytes=free, total_bytes=free
    )
    return replace(DESKTOP_16GB, gpu_offload=True, gpus=(gpu,))


def test_catalog_is_largest_first_with_the_published_files():
    assert [e.name for e in CATALOG] == ["Qwen3.5-9B", "Qwen3.5-4B", "Qwen3.5-2B", "Qwen3.5-0.8B"]
    assert [e.size_bytes for e in CATALOG] == sorted((e.size_bytes for e in CATALOG), reverse=True)
    assert NINE_B.repo_id == "unsloth/Qwen3.5-9B-GGUF"
    assert NINE_B.filename == "Qwen3.5-9B-Q4_K_M.gguf"
    assert NINE_B.kv_bytes_per_token == 32_768
    assert NINE_B.recurrent_state_bytes == 52_690_944
    assert CATALOG[2].kv_bytes_per_token == 12_288


def test_state_formula_matches_what_model_files_reads(tmp_path: Path):
    # tiny qwen35: 4 layers (3 recurrent), DeltaNet 2 key / 4 value heads of 16, conv 4
    info = read_model_info(write_tiny_qwen35(tmp_path / "tiny.gguf"))
    assert info.recurrent_state_bytes == _deltanet_state_bytes(2, 4, 16, 4, 3)


def test_8gb_laptop_gets_a_smaller_model_and_is_told_why():
    pick, fits = recommend(LAPTOP_8GB)
    assert pick.entry is not NINE_B
    assert pick.where == "cpu" and pick.max_context >= USEFUL_CONTEXT
    assert "memory" in pick.reason and NINE_B.name in pick.reason
    assert fits[0].where == "none" and "memory" in fits[0].reason
    assert [f.entry for f in fits] == list(CATALOG)


def test_16gb_desktop_runs_the_9b_on_cpu():
    pick, _ = recommend(DESKTOP_16GB)
    assert pick.entry is NINE_B
    assert pick.where == "cpu" and pick.gpu_layers == 0
    assert pick.max_context >= USEFUL_CONTEXT
    assert (
        memory_needed(NINE_B, pick.max_context) <= DESKTOP_16GB.ram_available_bytes - RAM_HEADROOM
    )


@pytest.mark.parametrize("free_gib", [7.0, 7.5])
def test_8gb_gpu_offloads_the_9b_as_far_as_the_estimate_allows(free_gib: float):
    vram = int(free_gib * GiB)
    pick, _ = recommend(with_gpu(vram))
    assert pick.entry is NINE_B
    total = NINE_B.n_layer + 1
    if memory_needed(NINE_B, USEFUL_CONTEXT) <= vram:
        assert pick.where == "gpu" and pick.gpu_layers == total
    else:
        assert pick.where == "partial" and 0 < pick.gpu_layers < total
    # the largest context splits the model over GPU and RAM
    ram = DESKTOP_16GB.ram_available_bytes - RAM_HEADROOM
    assert USEFUL_CONTEXT <= pick.max_context
    assert memory_needed(NINE_B, pick.max_context) <= vram + ram


def test_24gb_gpu_runs_the_9b_fully_offloaded_with_a_long_context():
    pick, _ = recommend(with_gpu(23 * GiB))
    assert pick.entry is NINE_B and pick.where == "gpu"
    assert pick.max_context >= 131_072
    assert "GPU memory" in pick.reason and f"{pick.max_context:,}" in pick.reason


def test_nothing_fits_recommends_the_smallest_with_the_reason():
    tiny = replace(LAPTOP_8GB, ram_total_bytes=2 * GiB, ram_available_bytes=1 * GiB)
    pick, fits = recommend(tiny)
    assert all(f.where == "none" and f.max_context == 0 for f in fits)
    assert pick.entry is CATALOG[-1] and "free" in pick.reason


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.name)
def test_context_is_capped_and_grows_with_memory(entry):
    for build in (
        lambda gib: replace(LAPTOP_8GB, ram_total_bytes=gib * GiB, ram_available_bytes=gib * GiB),
        lambda gib: with_gpu(gib * GiB),
    ):
        contexts = [fit(entry, build(gib)).max_context for gib in (2, 4, 6, 8, 12, 16, 24, 48)]
        assert all(0 <= c <= MAX_CONTEXT for c in contexts)
        assert contexts == sorted(contexts)
        assert contexts[-1] == MAX_CONTEXT
