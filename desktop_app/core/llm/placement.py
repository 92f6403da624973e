"""Decide where the model goes (GPU layers) and how much context fits.

llama.cpp can abort the whole process on some GPU allocation failures, so the
engine's retry-with-fewer-layers loop is only a safety net: these estimates,
from the model's metadata and the memory the machine reports, aim to make the
first attempt fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.hardware import Hardware
from desktop_app.core.models.gguf_header import ModelInfo

GiB = 1024**3

#: RAM left for the OS, the UI and the document text when sizing a CPU context.
RAM_HEADROOM = 1 * GiB
#: Contexts are sized in these steps so small changes do not force a reload.
CONTEXT_STEP = 4096
#: Context for a chat with no documents: room for a long conversation.
DEFAULT_CHAT_CONTEXT = 8192
#: The context assumed when the machine does not say how much memory it has.
UNKNOWN_MEMORY_CONTEXT = 32768


@dataclass(frozen=True)
class Placement:
    """Where the model's layers ended up, and why, for the status bar and logs."""

    gpu_layers: int
    total_layers: int
    reason: str | None = None

    def __str__(self) -> str:
        where = (
            "CPU" if self.gpu_layers == 0 else f"GPU {self.gpu_layers}/{self.total_layers} layers"
        )
        return f"{where} ({self.reason})" if self.reason else where


def offloadable_layers(info: ModelInfo) -> int:
    """llama.cpp offloads every block (MTP ones included) plus the output layer."""
    return info.n_layer_all + 1


def estimate_gpu_layers(info: ModelInfo, n_ctx: int, vram_free: int, cache_type: str) -> int:
    """How many layers (weights plus their share of the cache) fit in free VRAM."""
    total = offloadable_layers(info)
    budget = vram_free - info.compute_bytes(n_ctx)
    if budget <= 0:
        return 0
    per_layer = info.file_size / total + info.cache_bytes(n_ctx, cache_type) / total
    return max(0, min(total, int(budget // per_layer)))


def gpu_attempts(
    info: ModelInfo, hw: Hardware, n_ctx: int, cache_type: str, requested: int | None
) -> list[tuple[int, str | None]]:
    """Layer counts to try in order, each with the reason it is not a full offload.

    `requested`: None = as many as fit, 0 = CPU only, N = at most N layers.
    Always ends with CPU (0 layers), the placement that cannot run out of VRAM.
    """
    total = offloadable_layers(info)
    if requested == 0:
        return [(0, "GPU off in settings")]
    if not hw.gpu_offload:
        return [(0, None)]
    want = total if requested is None else min(requested, total)
    first = want
    reason: str | None = None
    vram = hw.vram_free_bytes
    if vram is not None:
        fit = estimate_gpu_layers(info, n_ctx, vram, cache_type)
        if fit < want:
            first = fit
            reason = f"{vram / GiB:.1f} GiB free GPU memory fits about {fit} layers"
    elif requested is not None and requested < total:
        reason = "layers limited in settings"
    attempts: list[tuple[int, str | None]] = []
    for n in (first, first * 3 // 4, first // 2, first // 4):
        if n > 0 and all(n != a for a, _ in attempts):
            attempts.append((n, reason))
    attempts.append((0, reason or "the model did not fit in GPU memory"))
    return attempts


def fit_context(info: ModelInfo, needed_tokens: int) -> int:
    """Smallest step-aligned context that holds `needed_tokens`, capped by the model.

    The cache for the whole context is allocated up front, so a bigger context
    than needed costs memory for nothing; if even this one does not fit, the
    engine's preflight check says so with numbers. A chat without documents gets
    a comfortable default rather than the tiny 512 llama-cpp-python would pick.
    """
    want = max(needed_tokens, DEFAULT_CHAT_CONTEXT)
    want = -(-want // CONTEXT_STEP) * CONTEXT_STEP
    return min(want, info.n_ctx_train) if info.n_ctx_train > 0 else want


def max_context(info: ModelInfo, hw: Hardware, cache_type: str) -> int:
    """The largest context this machine can hold for this model (RAM-bound on CPU).

    Used to tell the user honestly how much fits before anything is loaded. When the
    machine does not report its memory (0), nothing is known: a moderate context is assumed
    (the load itself then says if even that does not fit) instead of a context of 0.
    """
    if hw.ram_total_bytes <= 0 and not (hw.gpu_offload and hw.vram_free_bytes is not None):
        return (
            min(info.n_ctx_train, UNKNOWN_MEMORY_CONTEXT)
            if info.n_ctx_train
            else (UNKNOWN_MEMORY_CONTEXT)
        )
    compute = info.compute_bytes(info.n_ctx_train or 8192)
    free = hw.ram_available_bytes - RAM_HEADROOM - compute - info.recurrent_state_bytes
    per_token = info.kv_bytes_per_token_as(cache_type)
    if hw.gpu_offload and hw.vram_free_bytes is not None:
        free = max(free, hw.vram_free_bytes - info.file_size - compute)
    # Weights are memory-mapped: on CPU they compete with the cache for RAM.
    if not hw.gpu_offload:
        free -= info.file_size
    if per_token <= 0:
        return info.n_ctx_train
    tokens = max(0, free) // per_token
    tokens = tokens // CONTEXT_STEP * CONTEXT_STEP
    return int(min(tokens, info.n_ctx_train)) if info.n_ctx_train else int(tokens)
