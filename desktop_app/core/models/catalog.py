"""The Qwen3.5 models Folio offers to download, and which one this machine should get.

The first-run screen must say *before* a multi-gigabyte download whether a model will run
and with how much context, so each entry carries the shape numbers that size its KV cache,
recurrent state and compute buffers. `CatalogEntry.estimated_info` turns them into the same
`ModelInfo` that `model_files.read_model_info` builds from a real file, so the estimate uses
exactly the formulas the engine plans with (`ModelInfo.cache_bytes`, `compute_bytes`,
`placement.estimate_gpu_layers`).

The shapes are best estimates from the published configs; once a file is downloaded its
own metadata (read by `read_model_info`) wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from desktop_app import paths
from desktop_app.core.hardware import Hardware
from desktop_app.core.llm.placement import (
    CONTEXT_STEP,
    RAM_HEADROOM,
    GiB,
    estimate_gpu_layers,
    offloadable_layers,
)
from desktop_app.core.models import hf_cache
from desktop_app.core.models.gguf_header import ModelInfo

#: Qwen3.5's trained context; no fit offers more.
MAX_CONTEXT = 262_144
#: Below this a model still chats but cannot hold a long document, so it is not the pick.
USEFUL_CONTEXT = 16_384
_VOCAB = 248_320
_CACHE_TYPE = "f16"
_STATE_BYTES = 4  # llama.cpp keeps recurrent state in f32

Where = Literal["gpu", "partial", "cpu", "none"]


def _deltanet_state_bytes(
    key_heads: int, value_heads: int, head_dim: int, d_conv: int, recurrent_layers: int
) -> int:
    """Recurrent state of one sequence, as `model_files` computes it for qwen35.

    d_inner = value_heads·head_dim, n_group = key_heads, d_state = head_dim;
    n_embd_r = (d_conv−1)·(d_inner + 2·n_group·d_state), n_embd_s = d_state·d_inner,
    times 4 bytes (f32) times the recurrent layers.
    """
    d_inner = value_heads * head_dim
    conv = (d_conv - 1) * (d_inner + 2 * key_heads * head_dim)
    ssm = head_dim * d_inner
    return (conv + ssm) * _STATE_BYTES * recurrent_layers


@dataclass(frozen=True)
class CatalogEntry:
    """A downloadable GGUF and the shape numbers needed to size it without the file."""

    name: str
    repo_id: str
    filename: str
    size_bytes: int
    params_b: float
    n_layer: int
    n_attention_layers: int  # every 4th layer (full_attention_interval 4)
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    recurrent_state_bytes: int
    n_ctx_train: int = MAX_CONTEXT
    n_vocab: int = _VOCAB

    @property
    def kv_bytes_per_token(self) -> int:
        """f16 K+V over the attention layers: layers · kv heads · head_dim · 2 (K, V) · 2 B."""
        return self.n_attention_layers * self.n_head_kv * self.head_dim * 2 * 2

    def estimated_info(self) -> ModelInfo:
        """What `read_model_info` would report for the file, from the catalog's numbers."""
        return ModelInfo(
            path=Path(self.filename),
            file_size=self.size_bytes,
            architecture="qwen35",
            name=self.name,
            size_label=f"{self.params_b:g}B",
            n_params=int(self.params_b * 1e9),
            quantization="Q4_K_M",
            n_ctx_train=self.n_ctx_train,
            n_layer=self.n_layer,
            n_layer_all=self.n_layer,
            n_attention_layers=self.n_attention_layers,
            n_recurrent_layers=self.n_layer - self.n_attention_layers,
            n_embd=self.n_embd,
            n_head=self.n_head,
            n_head_kv=self.n_head_kv,
            n_vocab=self.n_vocab,
            kv_bytes_per_token=self.kv_bytes_per_token,
            recurrent_state_bytes=self.recurrent_state_bytes,
            chat_template=None,
            bos_token_id=None,
            eos_token_id=None,
        )

    def local_path(self) -> Path | None:
        """The downloaded file: in the shared hub cache, or in Folio's own models folder.

        Local lookups only, so "downloaded" shows offline too.
        """
        cached = hf_cache.cached_file(hf_cache.hub_cache_dir(), self.repo_id, self.filename)
        if cached is not None:
            return cached
        own = paths.models_dir() / self.filename
        return own if own.is_file() else None


def _qwen35(size: str, size_bytes: int, params_b: float, **shape: int) -> CatalogEntry:
    return CatalogEntry(
        name=f"Qwen3.5-{size}",
        repo_id=f"unsloth/Qwen3.5-{size}-GGUF",
        filename=f"Qwen3.5-{size}-Q4_K_M.gguf",
        size_bytes=size_bytes,
        params_b=params_b,
        **shape,
    )


#: Largest first: `recommend` takes the first one that fits well.
CATALOG: tuple[CatalogEntry, ...] = (
    # DeltaNet 16 key / 32 value heads of 128, 24 recurrent layers: 52,690,944 B.
    _qwen35(
        "9B", 5_680_522_464, 9.0, n_layer=32, n_attention_layers=8, n_embd=4096, n_head=16,
        n_head_kv=4, head_dim=256, recurrent_state_bytes=_deltanet_state_bytes(16, 32, 128, 4, 24),
    ),
    # Same DeltaNet and KV shape as the 9B on a narrower trunk: 52,690,944 B, 32,768 B/token.
    _qwen35(
        "4B", 2_740_937_888, 4.0, n_layer=32, n_attention_layers=8, n_embd=2560, n_head=16,
        n_head_kv=4, head_dim=256, recurrent_state_bytes=_deltanet_state_bytes(16, 32, 128, 4, 24),
    ),
    # DeltaNet 16 key / 16 value heads of 128, 18 recurrent layers: 20,201,472 B;
    # KV 6 layers · 2 heads · 256: 12,288 B/token.
    _qwen35(
        "2B", 1_280_835_840, 2.0, n_layer=24, n_attention_layers=6, n_embd=2048, n_head=8,
        n_head_kv=2, head_dim=256, recurrent_state_bytes=_deltanet_state_bytes(16, 16, 128, 4, 18),
    ),
    _qwen35(
        "0.8B", 532_517_120, 0.8, n_layer=24, n_attention_layers=6, n_embd=1024, n_head=8,
        n_head_kv=2, head_dim=256, recurrent_state_bytes=_deltanet_state_bytes(16, 16, 128, 4, 18),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Fit:
    """How one catalog model would run on this machine, in words the user can act on."""

    entry: CatalogEntry
    where: Where  # "gpu" = every layer offloaded, "partial" = some, "cpu", "none" = won't run
    gpu_layers: int  # for "partial": at a USEFUL_CONTEXT context (or max_context if less)
    max_context: int  # the largest context (tokens) that fits anywhere, at most MAX_CONTEXT
    reason: str


def memory_needed(entry: CatalogEntry, n_ctx: int) -> int:
    """Bytes to run `entry` with an `n_ctx` context: weights, cache and compute buffers."""
    return entry.estimated_info().memory_estimate(n_ctx, _CACHE_TYPE)


def _largest_context(entry: CatalogEntry, budget: int) -> int:
    """The largest step-aligned context whose whole footprint fits in `budget` bytes; 0 if none.

    The footprint grows with the context, so a binary search over the steps finds it.
    """
    info = entry.estimated_info()
    lo, hi, best = 1, min(entry.n_ctx_train, MAX_CONTEXT) // CONTEXT_STEP, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if info.memory_estimate(mid * CONTEXT_STEP, _CACHE_TYPE) <= budget:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best * CONTEXT_STEP


def _context_note(n_ctx: int) -> str:
    short = n_ctx < USEFUL_CONTEXT
    return f"a {n_ctx:,}-token context" + (" (short for long documents)" if short else "")


def fit(entry: CatalogEntry, hw: Hardware) -> Fit:
    """Where `entry` would run on `hw` and with how much context.

    `max_context` is the most this machine holds in any placement (GPU and RAM together
    when layers are split), so it only grows with memory. The placement is the fastest one
    that holds a useful context: full offload if VRAM alone does, else a split, else CPU.
    """
    ram = max(0, hw.ram_available_bytes - RAM_HEADROOM)
    vram = (hw.vram_free_bytes or 0) if hw.gpu_offload else 0
    info = entry.estimated_info()
    total_layers = offloadable_layers(info)
    n_ctx = _largest_context(entry, vram + ram)
    if vram and n_ctx:
        on_gpu = _largest_context(entry, vram)
        if on_gpu >= min(USEFUL_CONTEXT, n_ctx):
            reason = f"Fits entirely in {vram / GiB:.1f} GiB of free GPU memory with "
            reason += f"{_context_note(on_gpu)}"
            if n_ctx > on_gpu:
                reason += f", or up to {n_ctx:,} tokens with some layers on the CPU"
            return Fit(entry, "gpu", total_layers, n_ctx, reason + ".")
        # Layers for the context the recommendation is about; more context moves layers off.
        planned = min(n_ctx, USEFUL_CONTEXT)
        layers = min(total_layers - 1, estimate_gpu_layers(info, planned, vram, _CACHE_TYPE))
        if layers > 0:
            reason = (
                f"{layers} of {total_layers} layers fit in {vram / GiB:.1f} GiB of free GPU "
                f"memory and the rest runs on the CPU, with up to {_context_note(n_ctx)}."
            )
            return Fit(entry, "partial", layers, n_ctx, reason)
        n_ctx = _largest_context(entry, ram)
    if n_ctx:
        reason = (
            f"Runs on the CPU in {ram / GiB:.1f} GiB of free memory with {_context_note(n_ctx)}."
        )
        return Fit(entry, "cpu", 0, n_ctx, reason)
    need = memory_needed(entry, CONTEXT_STEP)
    reason = (
        f"Needs about {need / GiB:.1f} GiB of free memory even with a {CONTEXT_STEP:,}-token "
        f"context, but only {max(ram, vram) / GiB:.1f} GiB is free."
    )
    return Fit(entry, "none", 0, 0, reason)


def recommend(hw: Hardware) -> tuple[Fit, list[Fit]]:
    """The model to offer first, and every catalog model with its verdict (largest first).

    The pick is the largest model that runs with a useful context; failing that the largest
    that runs at all, and failing that the smallest (whose reason says what is missing).
    When the pick is not the first entry, its reason says why the bigger one was passed over.
    """
    fits = [fit(entry, hw) for entry in CATALOG]
    runnable = [f for f in fits if f.where != "none"]
    useful = [f for f in runnable if f.max_context >= USEFUL_CONTEXT]
    pick = (useful or runnable or fits[-1:])[0]
    if pick is fits[0]:
        return pick, fits
    top = fits[0].entry
    free = max(hw.ram_available_bytes - RAM_HEADROOM, hw.vram_free_bytes or 0, 0)
    why = (
        f"{top.name} needs about {memory_needed(top, USEFUL_CONTEXT) / GiB:.1f} GiB of memory "
        f"for a {USEFUL_CONTEXT:,}-token context, but only {free / GiB:.1f} GiB is free."
    )
    return replace(pick, reason=f"{why} {pick.reason}"), fits
