"""What this machine can give the model: CPU cores, RAM and GPU memory.

The engine sizes its thread count, context length and GPU layers from these numbers, so
they describe what *this process* may use (CPU affinity, container quotas), not what the
host has. Every probe degrades to a conservative fallback instead of raising: a wrong
guess costs speed, an exception here would cost the whole app its start-up.

Never imports Qt, and imports llama_cpp only inside functions, so importing this module
stays cheap and works where llama-cpp-python is missing.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_GIB = 1024**3

# enum ggml_backend_dev_type (ggml/include/ggml-backend.h): CPU = 0, GPU = 1, IGPU = 2,
# ACCEL = 3, META = 4. CPU is not offload hardware and META only wraps other devices (it
# would count their memory twice), so neither is listed.
_GGML_DEVICE_KINDS: dict[int, str] = {1: "gpu", 2: "igpu", 3: "accel"}
# Accelerators (BLAS, AMX) compute alongside the CPU from host memory; layers are never
# offloaded to them, so their memory is not VRAM.
_VRAM_KINDS = frozenset({"gpu", "igpu"})
_KIND_LABELS = {"gpu": "GPU", "igpu": "integrated GPU", "accel": "accelerator"}

# LOGICAL_PROCESSOR_RELATIONSHIP.RelationProcessorCore (winnt.h).
_RELATION_PROCESSOR_CORE = 0


@dataclass(frozen=True)
class GpuDevice:
    """A non-CPU ggml backend device, as the loaded llama.cpp build sees it."""

    name: str  # ggml's device name, e.g. "CUDA0"
    description: str  # e.g. "NVIDIA GeForce RTX 4060"
    kind: str  # "gpu" | "igpu" | "accel"
    free_bytes: int | None
    total_bytes: int | None


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


def detect() -> Hardware:
    """Probe everything once; cheap enough to call at start-up and before each model load."""
    logical = _logical_cores()
    total, available = memory()
    return Hardware(
        physical_cores=physical_cores(),
        logical_cores=logical,
        ram_total_bytes=total,
        ram_available_bytes=available,
        gpu_offload=gpu_offload_supported(),
        gpus=gpu_devices(),
    )


# --- CPU ---------------------------------------------------------------------------------


def physical_cores() -> int:
    """Cores worth one llama.cpp thread each; always at least 1.

    llama.cpp's matrix kernels keep a core's vector units busy, so hyperthread siblings add
    little, and threads beyond a container's quota only stall each other. On Apple Silicon
    only performance cores count: every thread waits for the slowest one, so efficiency
    cores slow the whole batch down.
    """
    logical = _logical_cores()
    cores: int | None = None
    if sys.platform == "linux":
        cores = _safely(lambda: _linux_physical_cores(allowed=_affinity()))
        quota = _safely(_linux_cpu_quota)
        if cores is not None and quota is not None:
            cores = min(cores, quota)
    elif sys.platform == "darwin":
        cores = _sysctl_int("hw.perflevel0.physicalcpu") or _sysctl_int("hw.physicalcpu")
    elif sys.platform == "win32":
        cores = _safely(_windows_physical_cores)
    return max(1, min(cores or logical, logical))


def _logical_cores() -> int:
    """Hardware threads this process may run on (affinity and cgroup quota applied)."""
    allowed = _affinity()
    count = len(allowed) if allowed else (os.cpu_count() or 1)
    if sys.platform == "linux":
        quota = _safely(_linux_cpu_quota)
        if quota is not None:
            count = min(count, quota)
    return max(1, count)


def _affinity() -> set[int] | None:
    """CPUs the scheduler lets this process use; None where the OS cannot say."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _linux_physical_cores(
    root: Path = Path("/"), allowed: Collection[int] | None = None
) -> int | None:
    """Distinct physical cores among the `allowed` CPUs; None when the topology is unknown.

    `root` is the filesystem root, so tests can point it at a fake sysfs/procfs tree.
    """
    cores = _sysfs_cores(root, allowed)
    if cores is None:
        cores = _cpuinfo_cores(root, allowed)
    return len(cores) if cores else None


def _sysfs_cores(root: Path, allowed: Collection[int] | None) -> set[object] | None:
    """One key per core from /sys/devices/system/cpu/cpuN/topology.

    A core is identified by its thread-sibling list where the kernel provides one: unlike
    (package id, core id) it stays unique on ARM SoCs whose clusters reuse core ids.
    """
    cores: set[object] = set()
    for cpu, topology in _numbered_dirs(root / "sys/devices/system/cpu", "cpu", "topology"):
        if allowed is not None and cpu not in allowed:
            continue
        siblings = _read_text(topology / "thread_siblings_list")
        if siblings:
            cores.add(siblings.strip())
            continue
        core = _read_int(topology / "core_id")
        if core is None:
            return None  # a partial topology would undercount; let the caller fall back
        cores.add((_read_int(topology / "physical_package_id") or 0, core))
    return cores or None


def _numbered_dirs(parent: Path, prefix: str, child: str) -> Iterator[tuple[int, Path]]:
    """(N, parent/prefixN/child) for each existing prefixN directory, e.g. cpu0, cpu1."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)")
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and (entry / child).is_dir():
            yield int(match.group(1)), entry / child


def _cpuinfo_cores(root: Path, allowed: Collection[int] | None) -> set[object] | None:
    """(physical id, core id) pairs from /proc/cpuinfo; None when it lacks core ids."""
    text = _read_text(root / "proc/cpuinfo")
    if not text:
        return None
    cores: set[object] = set()
    for block in text.split("\n\n"):
        fields = dict(_key_values(block))
        processor = fields.get("processor", "")
        if not processor.isdigit():
            continue
        if allowed is not None and int(processor) not in allowed:
            continue
        core = fields.get("core id", "")
        if not core.isdigit():
            return None
        cores.add((fields.get("physical id", "0"), int(core)))
    return cores or None


def _linux_cpu_quota(root: Path = Path("/")) -> int | None:
    """Whole CPUs the cgroup CPU quota allows (rounded up); None when unlimited.

    Containers and CI runners often grant e.g. 1.5 CPUs of a large host; running one thread
    per host core there makes them all wait for their time slice.
    """
    limits: list[int] = []
    for directory in _cgroup_dirs(root, "cpu"):
        quota: int | None = None
        period: int | None = None
        cpu_max = _read_text(directory / "cpu.max")  # cgroup v2: "<quota|max> <period>"
        if cpu_max:
            fields = cpu_max.split()
            if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
                quota, period = int(fields[0]), int(fields[1])
        else:  # cgroup v1: quota -1 means unlimited
            quota = _read_int(directory / "cpu.cfs_quota_us")
            period = _read_int(directory / "cpu.cfs_period_us")
        if quota is not None and period and quota > 0:
            limits.append(max(1, math.ceil(quota / period)))
    return min(limits) if limits else None


def _cgroup_dirs(root: Path, controller: str) -> list[Path]:
    """This process's cgroup directories for `controller`, innermost first, then ancestors.

    Limits set on a parent (a systemd slice, a pod) bind too, so the caller takes the
    tightest. Covers cgroup v2 (the "0::" line) and v1 (a line naming the controller).
    """
    base = root / "sys/fs/cgroup"
    mounts: list[tuple[Path, str]] = []
    for line in (_read_text(root / "proc/self/cgroup") or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if not controllers:
            mounts.append((base, path))
        elif controller in controllers.split(","):
            v1_mount = base / controller
            mounts.append((v1_mount if v1_mount.is_dir() else base / controllers, path))
    if not mounts:
        mounts = [(base, "/"), (base / controller, "/")]
    dirs: list[Path] = []
    for mount, path in mounts:
        directory = mount / path.strip("/")
        while True:
            if directory.is_dir() and directory not in dirs:
                dirs.append(directory)
            if directory == mount or mount not in directory.parents:
                break
            directory = directory.parent
    return dirs


def _windows_physical_cores() -> int | None:
    """Physical cores across all processor groups, via GetLogicalProcessorInformationEx."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    query = kernel32.GetLogicalProcessorInformationEx
    query.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    query.restype = ctypes.c_int
    length = ctypes.c_uint32(0)
    query(_RELATION_PROCESSOR_CORE, None, ctypes.byref(length))  # asks for the buffer size
    if not length.value:
        return None
    buffer = ctypes.create_string_buffer(length.value)
    if not query(_RELATION_PROCESSOR_CORE, buffer, ctypes.byref(length)):
        return None
    return _count_processor_cores(buffer.raw[: length.value]) or None


def _count_processor_cores(records: bytes) -> int:
    """Count RelationProcessorCore entries in a SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX list.

    Entries vary in size; each starts with DWORD Relationship, DWORD Size.
    """
    count = 0
    offset = 0
    while offset + 8 <= len(records):
        relationship, size = struct.unpack_from("<II", records, offset)
        if size < 8:
            break
        if relationship == _RELATION_PROCESSOR_CORE:
            count += 1
        offset += size
    return count


# --- Memory ------------------------------------------------------------------------------


def memory() -> tuple[int, int]:
    """(total, available) RAM in bytes for this process; (0, 0) when nothing could tell.

    "Available" is what can be allocated without swapping (page cache counts as free),
    because that, not "free", decides whether a model fits.
    """
    probes: dict[str, Callable[[], tuple[int, int] | None]] = {
        "linux": _linux_memory,
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


def _linux_memory(root: Path = Path("/")) -> tuple[int, int] | None:
    """/proc/meminfo, tightened by a cgroup memory limit (exceeding it gets us OOM-killed)."""
    info = _parse_meminfo(_read_text(root / "proc/meminfo") or "")
    total = info.get("MemTotal")
    if not total:
        return None
    available = info.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = sum(info.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
    limited = _linux_cgroup_memory(root)
    if limited is not None and limited[0] < total:
        limit, used = limited
        total = limit
        available = min(available, limit if used is None else max(0, limit - used))
    return total, available


def _parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as bytes per key ("MemTotal:  24683656 kB" -> 25276063744)."""
    values: dict[str, int] = {}
    for key, value in _key_values(text):
        fields = value.split()
        if fields and fields[0].isdigit():
            unit = 1024 if len(fields) > 1 and fields[1].lower() == "kb" else 1
            values[key] = int(fields[0]) * unit
    return values


def _linux_cgroup_memory(root: Path = Path("/")) -> tuple[int, int | None] | None:
    """(limit, used) of the tightest cgroup memory limit, or None when there is none.

    "Used" leaves out inactive page cache, which the kernel reclaims before OOM-killing.
    """
    tightest: tuple[int, Path] | None = None
    for directory in _cgroup_dirs(root, "memory"):
        raw = _read_text(directory / "memory.max") or _read_text(
            directory / "memory.limit_in_bytes"
        )
        limit = raw.strip() if raw else ""
        if limit.isdigit() and (tightest is None or int(limit) < tightest[0]):
            tightest = (int(limit), directory)
    if tightest is None:
        return None
    limit, directory = tightest
    usage = _read_int(directory / "memory.current")
    if usage is None:
        usage = _read_int(directory / "memory.usage_in_bytes")
    if usage is not None:
        stat = dict(_space_values(_read_text(directory / "memory.stat") or ""))
        inactive = stat.get("inactive_file", stat.get("total_inactive_file", 0))
        usage = max(0, usage - inactive)
    return limit, usage


def _macos_memory() -> tuple[int, int] | None:
    """hw.memsize, and vm_stat's free + inactive + speculative pages as available."""
    total = _sysctl_int("hw.memsize")
    if not total:
        return None
    available = _parse_vm_stat(_run(["/usr/bin/vm_stat"]) or "")
    return total, total if available is None else available


def _parse_vm_stat(text: str) -> int | None:
    """Bytes macOS can hand out without paging, from `vm_stat` output.

    Inactive and speculative pages are file cache the kernel drops on demand; "Pages free"
    already excludes speculative ones, so the three do not overlap.
    """
    page_size = re.search(r"page size of (\d+) bytes", text)
    if not page_size:
        return None
    pages: dict[str, int] = {}
    for key, value in _key_values(text):
        value = value.rstrip(".")
        if value.isdigit():
            pages[key] = int(value)
    if "Pages free" not in pages:
        return None
    wanted = ("Pages free", "Pages inactive", "Pages speculative")
    return int(page_size.group(1)) * sum(pages.get(key, 0) for key in wanted)


class _MemoryStatusEx(ctypes.Structure):
    """MEMORYSTATUSEX (sysinfoapi.h)."""

    _fields_ = [
        ("dwLength", ctypes.c_uint32),
        ("dwMemoryLoad", ctypes.c_uint32),
        ("ullTotalPhys", ctypes.c_uint64),
        ("ullAvailPhys", ctypes.c_uint64),
        ("ullTotalPageFile", ctypes.c_uint64),
        ("ullAvailPageFile", ctypes.c_uint64),
        ("ullTotalVirtual", ctypes.c_uint64),
        ("ullAvailVirtual", ctypes.c_uint64),
        ("ullAvailExtendedVirtual", ctypes.c_uint64),
    ]


def _windows_memory() -> tuple[int, int] | None:
    """GlobalMemoryStatusEx: physical total and available (standby cache counts as available)."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    status = _MemoryStatusEx()
    status.dwLength = ctypes.sizeof(_MemoryStatusEx)
    if not kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


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
    CPU-only wheel. The call also loads dynamically built backends, which gpu_devices()
    relies on.
    """

    def ask() -> bool:
        import llama_cpp

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


def _ggml_devices() -> tuple[GpuDevice, ...]:
    libraries = _ggml_libraries()
    dev_count = _ggml_function(libraries, "ggml_backend_dev_count", ctypes.c_size_t, [])
    dev_get = _ggml_function(libraries, "ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t])
    dev_type = _ggml_function(libraries, "ggml_backend_dev_type", ctypes.c_int, [ctypes.c_void_p])
    dev_name = _ggml_function(
        libraries, "ggml_backend_dev_name", ctypes.c_char_p, [ctypes.c_void_p]
    )
    dev_description = _ggml_function(
        libraries, "ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p]
    )
    size_p = ctypes.POINTER(ctypes.c_size_t)
    dev_memory = _ggml_function(
        libraries, "ggml_backend_dev_memory", None, [ctypes.c_void_p, size_p, size_p]
    )
    devices: list[GpuDevice] = []
    for index in range(dev_count()):
        device = dev_get(index)
        kind = _GGML_DEVICE_KINDS.get(dev_type(device)) if device else None
        if kind is None:
            continue
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            GpuDevice(
                name=_decode(dev_name(device)),
                description=_decode(dev_description(device)),
                kind=kind,
                # Backends without a memory figure (BLAS) report 0 of 0.
                free_bytes=free.value if total.value else None,
                total_bytes=total.value or None,
            )
        )
    return tuple(devices)


def _ggml_libraries() -> list[ctypes.CDLL]:
    """The loaded libraries to look ggml's device API up in, opened from llama_cpp's lib folder.

    On Linux and macOS only libllama: dlsym on its handle also searches its dependencies, so
    it finds exactly the libggml llama.cpp linked and uses. Opening libggml by file name
    could map a second copy with its own, separate device registry, because wheels store
    the versioned names (libggml.so.0) as separate files rather than links. Windows looks
    no further than a DLL's own exports, and loads each DLL once, so there the ggml DLLs
    are opened directly. Importing llama_cpp first makes all of these already loaded.
    """
    import llama_cpp

    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    lib_dir = (
        Path(override)
        if override
        else Path(os.path.abspath(os.path.dirname(llama_cpp.__file__))) / "lib"
    )
    base_names = ("ggml", "ggml-base") if sys.platform == "win32" else ("llama",)
    libraries: list[ctypes.CDLL] = []
    for base_name in base_names:
        for path in _library_paths(lib_dir, base_name):
            if path.exists():
                libraries.append(ctypes.CDLL(str(path)))
                break
    if not libraries:
        raise FileNotFoundError(f"no llama.cpp library in {lib_dir}")
    return libraries


def _library_paths(lib_dir: Path, base_name: str) -> list[Path]:
    """Candidate file names, mirroring llama_cpp._ctypes_extensions.load_shared_library."""
    if sys.platform == "win32":
        return [lib_dir / f"{base_name}.dll", lib_dir / f"lib{base_name}.dll"]
    if sys.platform == "darwin":
        return [lib_dir / f"lib{base_name}.so", lib_dir / f"lib{base_name}.dylib"]
    return [lib_dir / f"lib{base_name}.so"]


def _ggml_function(
    libraries: Sequence[ctypes.CDLL], name: str, restype: Any, argtypes: list[Any]
) -> Any:
    """`name` from the first library exporting it, typed; AttributeError if none does.

    Each CDLL instance here is our own, so setting restype/argtypes cannot disturb
    llama_cpp's bindings.
    """
    for library in libraries:
        try:
            function = getattr(library, name)
        except AttributeError:
            continue
        function.restype = restype
        function.argtypes = argtypes
        return function
    raise AttributeError(f"{name} not exported by any ggml library")


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


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def _key_values(text: str) -> Iterator[tuple[str, str]]:
    """Yield `key: value` lines (meminfo, cpuinfo, vm_stat), both sides stripped."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip(), value.strip()


def _space_values(text: str) -> Iterator[tuple[str, int]]:
    """Yield `key value` lines with integer values (cgroup memory.stat)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            yield fields[0], int(fields[1])


def _run(command: list[str]) -> str | None:
    """stdout of a short system tool, or None if it is missing, fails or hangs."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _sysctl_int(name: str) -> int | None:
    output = (_run(["/usr/sbin/sysctl", "-n", name]) or "").strip()
    return int(output) if output.isdigit() else None


def _decode(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", errors="replace")


def _gib(value: int) -> str:
    return f"{value / _GIB:.1f} GiB"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
