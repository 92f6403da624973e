"""Loading a model: GPU offload first, fewer layers next, CPU last, reasons kept.

llama.cpp can abort the process on some GPU allocation failures, so the
attempts start from an estimate that should fit (placement.py); retrying with
fewer layers is the safety net. Each attempt includes a one-token warm-up
decode, because a GPU short of memory often fails there rather than at load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from desktop_app.core import hardware as hw_mod
from desktop_app.core.hardware import Hardware
from desktop_app.core.hardware.backends import ensure_loaded
from desktop_app.core.llm.llama_log import route_llama_logs
from desktop_app.core.llm.placement import GiB, Placement, gpu_attempts, offloadable_layers
from desktop_app.core.models.gguf_header import ModelInfo, read_model_info
from desktop_app.errors import ModelLoadError

log = logging.getLogger(__name__)

CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}


@dataclass(frozen=True)
class EngineConfig:
    model_path: Path
    #: Context length in tokens, chosen by the caller (see placement.fit_context).
    n_ctx: int
    #: None = as many GPU layers as fit, 0 = CPU only, N = at most N.
    gpu_layers: int | None = None
    #: None = physical cores (decode is memory-bound; hyperthreads do not help).
    n_threads: int | None = None
    #: None = logical cores (prefill is compute-bound and uses them all).
    n_threads_batch: int | None = None
    flash_attn: str = "auto"
    kv_cache_type: str = "f16"
    n_batch: int = 512
    #: RAM for recurrent-state checkpoints (hybrid models), least recently used evicted.
    checkpoint_ram_bytes: int = 1024**3


@dataclass(frozen=True)
class LoadRequest:
    """Everything one load attempt passes to llama.cpp (also what tests inject)."""

    model_path: str
    n_gpu_layers: int
    n_ctx: int
    n_batch: int
    n_threads: int
    n_threads_batch: int
    flash_attn: bool
    cache_type: str


Loader = Callable[[LoadRequest], llama_cpp.Llama]


def llama_loader(req: LoadRequest) -> llama_cpp.Llama:
    ensure_loaded()
    ggml_type = CACHE_TYPES[req.cache_type]
    return llama_cpp.Llama(
        model_path=req.model_path,
        n_gpu_layers=req.n_gpu_layers,
        n_ctx=req.n_ctx,
        n_batch=req.n_batch,
        n_ubatch=req.n_batch,
        n_threads=req.n_threads,
        n_threads_batch=req.n_threads_batch,
        flash_attn=req.flash_attn,
        type_k=ggml_type,
        type_v=ggml_type,
        verbose=False,
    )


def decide_flash_attn(setting: str, on_gpu: bool, cache_type: str) -> tuple[bool, str]:
    """Flash attention on or off, and why.

    Measured on a 2-core x86 CPU at a 4.8K-token context: flash attention made
    decode 20-35% slower (SmolLM2 22 vs 35 tok/s; 0.8B-shaped qwen35 20.5 vs
    25.4) with prefill about equal, so `auto` turns it off on CPU. On GPUs it is
    faster, and a quantized V cache cannot work without it.
    """
    if cache_type != "f16":
        return True, f"required by the {cache_type} KV cache"
    if setting == "on":
        return True, "on in settings"
    if setting == "off":
        return False, "off in settings"
    if on_gpu:
        return True, "auto: faster on GPU"
    return False, "auto: slower for decoding on CPU"


@dataclass(frozen=True)
class Loaded:
    llm: llama_cpp.Llama
    info: ModelInfo
    placement: Placement
    flash_attn: tuple[bool, str]
    n_threads: int
    n_threads_batch: int


def load_llama(config: EngineConfig, hardware: Hardware | None, loader: Loader) -> Loaded:
    """Load the model on the best placement that works.

    Raises `ModelFileError` for a bad file and `ModelLoadError` when no
    placement works or the context cannot fit in memory.
    """
    info = read_model_info(config.model_path)
    route_llama_logs()
    hw = hardware or hw_mod.detect()
    if config.kv_cache_type not in CACHE_TYPES:
        raise ModelLoadError(
            f"Unknown KV cache type {config.kv_cache_type!r}; use one of {', '.join(CACHE_TYPES)}"
        )
    n_threads = config.n_threads or hw.physical_cores
    n_threads_batch = config.n_threads_batch or max(hw.logical_cores, n_threads)
    attempts = gpu_attempts(info, hw, config.n_ctx, config.kv_cache_type, config.gpu_layers)
    if attempts == [(0, None)]:
        # No GPU to offload to: say why (no driver, no device, a CPU-only build).
        attempts = [(0, f"no GPU: {ensure_loaded().gpu_reason()}")]
    if attempts[0][0] == 0:
        _check_ram(info, hw, config)
    failures: list[str] = []
    total = offloadable_layers(info)
    for n_gpu, reason in attempts:
        fa = decide_flash_attn(config.flash_attn, n_gpu > 0, config.kv_cache_type)
        req = LoadRequest(
            model_path=str(config.model_path),
            n_gpu_layers=n_gpu,
            n_ctx=config.n_ctx,
            n_batch=min(config.n_batch, config.n_ctx),
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
            flash_attn=fa[0],
            cache_type=config.kv_cache_type,
        )
        llm = None
        try:
            llm = loader(req)
            _warm_up(llm)
        except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
            if llm is not None:
                # Free this attempt's weights and context before the next (smaller) one
                # needs the memory they hold.
                llm.close()
            where = "CPU" if n_gpu == 0 else f"{n_gpu} GPU layers"
            failures.append(f"{where}: {exc}")
            log.warning("loading %s with %s failed: %s", config.model_path, where, exc)
            continue
        if failures:
            reason = f"fell back after: {'; '.join(failures)}"
        placement = Placement(n_gpu, total, reason)
        log.info("loaded %s on %s", config.model_path.name, placement)
        return Loaded(llm, info, placement, fa, n_threads, n_threads_batch)
    raise ModelLoadError(
        f"llama.cpp could not load {config.model_path.name}: " + "; ".join(failures)
    )


def _warm_up(llm: llama_cpp.Llama) -> None:
    """Decode one token and clear it: a GPU that is short of memory usually fails
    here rather than in the middle of the user's first answer."""
    bos = llm.token_bos()
    llm.eval([bos if bos >= 0 else 0])
    clear_memory(llm)


def clear_memory(llm: llama_cpp.Llama) -> None:
    """Empty the context; the next prompt is read from scratch."""
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    llm.n_tokens = 0


def _check_ram(info: ModelInfo, hw: Hardware, config: EngineConfig) -> None:
    """Refuse a CPU context that cannot fit, with numbers, before llama.cpp tries."""
    need = info.cache_bytes(config.n_ctx, config.kv_cache_type) + info.compute_bytes(config.n_ctx)
    if hw.ram_total_bytes and need > hw.ram_available_bytes:  # 0 = memory unknown
        raise ModelLoadError(
            f"Not enough memory for a {config.n_ctx:,}-token context with {info.path.name}: "
            f"its cache needs {need / GiB:.1f} GiB but only {hw.ram_available_bytes / GiB:.1f} GiB "
            "is free. Choose a smaller context or close other programs."
        )
