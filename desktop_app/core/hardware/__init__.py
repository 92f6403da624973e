"""What this machine can give the model: CPU cores, RAM and GPU memory.

The engine sizes its thread count, context length and GPU layers from these numbers, so
they describe what *this process* may use (CPU affinity, container quotas), not what the
host has. Every probe degrades to a conservative fallback instead of raising: a wrong
guess costs speed, an exception here would cost the whole app its start-up.

This package holds the public API and picks the probe per platform; the probes themselves
live in `linux`, `macos`, `windows` and `ggml_devices`.

Never imports Qt, and imports llama_cpp only inside functions, so importing this package
stays cheap and works where llama-cpp-python is missing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from desktop_app.core.hardware.ggml_devices import GpuDevice, _ggml_devices
from desktop_app.core.hardware.linux import (
    _linux_cpu_quota,
    _linux_memory,
    _linux_physical_cores,
)
from desktop_app.core.hardware.macos import _macos_memory, _sysctl_int
from desktop_app.core.hardware.windows import _windows_memory, _windows_physical_cores

__all__ = [
    "GpuDevice",
    "Hardware",
    "detect",
    "gpu_devices",
    "gpu_offload_supported",
    "memory",
    "physical_cores",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_GIB = 1024**3

# Accelerators (BLAS, AMX) compute alongside the CPU from host memory; layers are never
# offloaded to them, so their memory is not VRAM.
_VRAM_KINDS = frozenset({"gpu", "igpu"})
_KIND_LABELS = {"gpu": "GPU", "igpu": "integrated GPU", "accel": "accelerator"}


@dataclass(frozen=True)
class Hardware:
    """A snapshot of the resources the engine may plan with.

    RAM figures of 0 mean "unknown" (no probe worked on this platform).
    """

    physical_cores: int
    logical_cores: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpu_offload: bool
    gpus: tuple[GpuDevice, ...]

    @property
    def vram_free_bytes(self) -> int | None:
        """Free memory over all devices that can hold offloaded layers; None if unknown."""
        known = [
            gpu.free_bytes
            for gpu in self.gpus
            if gpu.kind in _VRAM_KINDS and gpu.free_bytes is not None
        ]
        return sum(known) if known else None

    def summary(self) -> str:
        """One line for logs and the About box, so bug reports say what the machine had."""
        parts = [
            f"{_plural(self.physical_cores, 'core')} ({_plural(self.logical_cores, 'thread')})",
            (
                f"{_gib(self.ram_total_bytes)} RAM ({_gib(self.ram_available_bytes)} free)"
                if self.ram_total_bytes
                else "RAM unknown"
            ),
        ]
        parts += [_describe_device(gpu) for gpu in self.gpus]
        if not self.gpu_offload:
            parts.append("no GPU offload in this build")
        elif not any(gpu.kind in _VRAM_KINDS for gpu in self.gpus):
            parts.append("GPU offload available")
        return " ".join(", ".join(parts).split())


def detect(root: Path = Path("/")) -> Hardware:
    """Probe everything once; cheap enough to call at start-up and before each model load.

    `root`: where the Linux probes find /proc and /sys (a fake tree in the tests, which then
    know the exact numbers a machine must give)."""
    logical = _logical_cores(root)
    total, available = memory(root)
    return Hardware(
        physical_cores=physical_cores(root),
        logical_cores=logical,
        ram_total_bytes=total,
        ram_available_bytes=available,
        gpu_offload=gpu_offload_supported(),
        gpus=gpu_devices(),
    )


# --- CPU ---------------------------------------------------------------------------------


def physical_cores(root: Path = Path("/")) -> int:
    """Cores worth one llama.cpp thread each; always at least 1.

    llama.cpp's matrix kernels keep a core's vector units busy, so hyperthread siblings add
    little, and threads beyond a container's quota only stall each other. On Apple Silicon
    only performance cores count: every thread waits for the slowest one, so efficiency
    cores slow the whole batch down.
    """
    logical = _logical_cores(root)
    cores: int | None = None
    if sys.platform == "linux":
        cores = _safely(lambda: _linux_physical_cores(root, allowed=_affinity()))
        quota = _safely(lambda: _linux_cpu_quota(root))
        if cores is not None and quota is not None:
            cores = min(cores, quota)
    elif sys.platform == "darwin":
        cores = _sysctl_int("hw.perflevel0.physicalcpu") or _sysctl_int("hw.physicalcpu")
    elif sys.platform == "win32":
        cores = _safely(_windows_physical_cores)
    return max(1, min(cores or logical, logical))


def _logical_cores(root: Path = Path("/")) -> int:
    """Hardware threads this process may run on (affinity and cgroup quota applied)."""
    allowed = _affinity()
    count = len(allowed) if allowed else (os.cpu_count() or 1)
    if sys.platform == "linux":
        quota = _safely(lambda: _linux_cpu_quota(root))
        if quota is not None:
            count = min(count, quota)
    return max(1, count)


def _affinity() -> set[int] | None:
    """CPUs the scheduler lets this process use; None where the OS cannot say."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


# --- Memory ------------------------------------------------------------------------------


def memory(root: Path = Path("/")) -> tuple[int, int]:
    """(total, available) RAM in bytes for this process; (0, 0) when nothing could tell.

    "Available" is what can be allocated without swapping (page cache counts as free),
    because that, not "free", decides whether a model fits.
    """
    probes: dict[str, Callable[[], tuple[int, int] | None]] = {
        "linux": lambda: _linux_memory(root),
        "darwin": _macos_memory,
        "win32": _windows_memory,
    }
    probe = probes.get(sys.platform)
    result = _safely(probe) if probe else None
    if result is None:
        result = _safely(_sysconf_memory)
    if result is None:
        return 0, 0
    total, available = result
    return total, max(0, min(available, total))


def _sysconf_memory() -> tuple[int, int] | None:
    """POSIX fallback; available falls back to total where the OS lacks SC_AVPHYS_PAGES."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = page * os.sysconf("SC_PHYS_PAGES")
    if total <= 0:
        return None
    try:
        available = page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError):
        available = total
    return total, available


# --- GPU ---------------------------------------------------------------------------------


def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp build can put layers on a GPU.

    Asked of llama.cpp rather than guessed from the hardware: a CUDA card is no use to a
    CPU-only wheel. The call also loads the backend modules (backends.ensure_loaded), which
    gpu_devices() relies on.
    """

    def ask() -> bool:
        import llama_cpp

        from desktop_app.core.hardware.backends import ensure_loaded

        ensure_loaded()
        return bool(llama_cpp.llama_supports_gpu_offload())

    return bool(_safely(ask))


def gpu_devices() -> tuple[GpuDevice, ...]:
    """Non-CPU devices of the loaded llama.cpp build with their memory; () when unknown.

    llama-cpp-python does not bind ggml's device API, so it is called through ctypes on the
    very ggml library llama.cpp uses (same device registry). Querying memory initialises each
    device's driver context, as llama.cpp does itself when it loads a model.
    """
    gpu_offload_supported()  # registers backends built as loadable modules
    devices = _safely(_ggml_devices)
    return devices if devices is not None else ()


def _describe_device(gpu: GpuDevice) -> str:
    label = gpu.description or gpu.name
    details = [_KIND_LABELS.get(gpu.kind, gpu.kind)]
    if gpu.total_bytes:
        free = _gib(gpu.free_bytes) if gpu.free_bytes is not None else "?"
        details.append(f"{free} free of {_gib(gpu.total_bytes)}")
    return f"{label} ({', '.join(details)})"


# --- Small helpers ------------------------------------------------------------------------


def _safely(probe: Callable[[], _T]) -> _T | None:
    """Run a probe, turning any failure into None: hardware detection must never crash."""
    try:
        return probe()
    except Exception:
        log.debug("hardware probe %s failed", getattr(probe, "__name__", probe), exc_info=True)
        return None


def _gib(value: int) -> str:
    return f"{value / _GIB:.1f} GiB"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
