from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.hardware import GpuDevice, Hardware
from desktop_app.core.llm.placement import (
    GiB,
    Placement,
    estimate_gpu_layers,
    fit_context,
    gpu_attempts,
    max_context,
    offloadable_layers,
)
from desktop_app.core.models.gguf_header import read_model_info

CPU_ONLY = Hardware(
    physical_cores=4,
    logical_cores=8,
    ram_total_bytes=16 * GiB,
    ram_available_bytes=12 * GiB,
    gpu_offload=False,
    gpus=(),
)


def with_gpu(free: int | None) -> Hardware:
    gpu = GpuDevice(
        name="CUDA0", description="Test GPU", kind="gpu", free_bytes=free, total_bytes=free
    )
    return replace(CPU_ONLY, gpu_offload=True, gpus=(gpu,))


@pytest.fixture(scope="module")
def info(smollm2_gguf: Path):
    return read_model_info(smollm2_gguf)


def test_placement_labels():
    assert str(Placement(0, 33)) == "CPU"
    assert str(Placement(33, 33)) == "GPU 33/33 layers"
    assert str(Placement(20, 33, "6.0 GiB free")) == "GPU 20/33 layers (6.0 GiB free)"


def test_cpu_build_only_tries_cpu(info):
    assert gpu_attempts(info, CPU_ONLY, 4096, "f16", None) == [(0, None)]


def test_gpu_off_in_settings(info):
    assert gpu_attempts(info, with_gpu(24 * GiB), 4096, "f16", 0) == [(0, "GPU off in settings")]


def test_big_gpu_tries_full_offload_first_then_fewer_then_cpu(info):
    attempts = gpu_attempts(info, with_gpu(24 * GiB), 4096, "f16", None)
    layers = [n for n, _ in attempts]
    total = offloadable_layers(info)
    assert layers[0] == total and attempts[0][1] is None
    assert layers == sorted(layers, reverse=True) and layers[-1] == 0
    assert len(set(layers)) == len(layers)


def test_small_gpu_starts_from_estimate_and_says_why(info):
    free = info.file_size // 2 + 512 * 1024**2
    attempts = gpu_attempts(info, with_gpu(free), 4096, "f16", None)
    first, reason = attempts[0]
    assert 0 < first < offloadable_layers(info)
    assert "GiB free GPU memory" in reason


def test_estimate_shrinks_with_context(info):
    vram = 1 * GiB
    assert estimate_gpu_layers(info, 128_000, vram, "f16") <= estimate_gpu_layers(
        info, 2048, vram, "f16"
    )
    assert estimate_gpu_layers(info, 2048, 100 * 1024**2, "f16") == 0


def test_fit_context_is_stepped_and_capped(info):
    assert fit_context(info, 100) == 8192
    assert fit_context(info, 8193) == min(12288, info.n_ctx_train)
    assert fit_context(info, 10**9) == info.n_ctx_train


def test_max_context_grows_with_ram(info):
    small = replace(CPU_ONLY, ram_available_bytes=2 * GiB)
    assert max_context(info, small, "f16") <= max_context(info, CPU_ONLY, "f16")
    assert max_context(info, CPU_ONLY, "f16") <= info.n_ctx_train
