"""Hardware probes: sane on this machine, and the parsers right on fake sysfs/procfs trees."""

from __future__ import annotations

import ctypes
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core import hardware
from desktop_app.core.hardware import GpuDevice, Hardware, ggml_devices, linux, macos, windows

GIB = 1024**3


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_cpu(
    root: Path, cpu: int, core: int, package: int = 0, siblings: str | None = None
) -> None:
    topology = f"sys/devices/system/cpu/cpu{cpu}/topology"
    write(root, f"{topology}/core_id", f"{core}\n")
    write(root, f"{topology}/physical_package_id", f"{package}\n")
    if siblings is not None:
        write(root, f"{topology}/thread_siblings_list", f"{siblings}\n")


# --- This machine ---------------------------------------------------------------------------


def test_importing_pulls_in_neither_qt_nor_llama_cpp() -> None:
    code = (
        "import sys, desktop_app.core.hardware; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'llama_cpp'))]; "
        "sys.exit(bool(bad))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def fake_machine(
    root: Path, monkeypatch: pytest.MonkeyPatch, *, allowed: set[int], cpu_max: str = "max 100000"
) -> None:
    """8 hardware threads on 4 cores (siblings n and n+4, as Linux numbers them), 16 GiB of
    RAM with 8 GiB available, this process allowed on `allowed` CPUs under a cgroup v2
    CPU limit `cpu_max`, and no GPU."""
    for cpu in range(8):
        fake_cpu(root, cpu, core=cpu % 4, siblings=f"{cpu % 4},{cpu % 4 + 4}")
    write(root, "proc/meminfo", MEMINFO)
    write(root, "proc/self/cgroup", "0::/user.slice\n")
    write(root, "sys/fs/cgroup/user.slice/cpu.max", cpu_max)
    monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: set(allowed))
    monkeypatch.setattr(hardware, "gpu_offload_supported", lambda: False)
    monkeypatch.setattr(hardware, "gpu_devices", lambda: ())


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads a fake /proc and /sys")


@linux_only
@pytest.mark.parametrize(
    ("allowed", "cpu_max", "cores", "threads"),
    [
        (set(range(8)), "max 100000", 4, 8),  # hyperthread siblings count once
        ({0, 4}, "max 100000", 1, 2),  # one core's two threads
        ({0, 1, 2}, "max 100000", 3, 3),
        (set(range(8)), "150000 100000", 2, 2),  # 1.5 CPUs of quota: 2 threads, 2 cores
        (set(range(8)), "50000 100000", 1, 1),  # half a CPU: still one thread
    ],
)
def test_physical_cores_between_one_and_logical(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    allowed: set[int],
    cpu_max: str,
    cores: int,
    threads: int,
) -> None:
    fake_machine(tmp_path, monkeypatch, allowed=allowed, cpu_max=cpu_max)
    assert hardware.physical_cores(tmp_path) == cores
    assert hardware.detect(tmp_path).logical_cores == threads


@linux_only
def test_physical_cores_fall_back_to_threads_when_the_topology_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    write(tmp_path, "proc/cpuinfo", "processor\t: 0\n\nprocessor\t: 1\n")  # no core ids
    assert hardware.physical_cores(tmp_path) == 3


@linux_only
@pytest.mark.parametrize(
    ("meminfo", "limit", "usage", "expected"),
    [
        ("", None, None, (16384000 * 1024, 8192000 * 1024)),  # no cgroup limit
        ("", 4 * GIB, 5 * GIB, (4 * GIB, 0)),  # over its limit: nothing available, not < 0
        # A kernel that reports more available than total (seen in some containers' lxcfs
        # views): never more available than there is.
        ("MemAvailable:   99999999 kB\n", None, None, (16384000 * 1024, 16384000 * 1024)),
    ],
)
def test_memory_totals_are_sane(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    meminfo: str,
    limit: int | None,
    usage: int | None,
    expected: tuple[int, int],
) -> None:
    fake_machine(tmp_path, monkeypatch, allowed=set(range(8)))
    if meminfo:
        write(tmp_path, "proc/meminfo", MEMINFO.replace("MemAvailable:    8192000 kB\n", meminfo))
    if limit is not None:
        write(tmp_path, "sys/fs/cgroup/user.slice/memory.max", f"{limit}\n")
        write(tmp_path, "sys/fs/cgroup/user.slice/memory.current", f"{usage}\n")
    assert hardware.memory(tmp_path) == expected


def test_gpu_devices_returns_devices_and_none_offloadable_without_gpu_backend() -> None:
    pytest.importorskip("llama_cpp")
    devices = hardware.gpu_devices()
    assert isinstance(devices, tuple)
    assert all(isinstance(device, GpuDevice) for device in devices)
    if not hardware.gpu_offload_supported():
        assert [d for d in devices if d.kind in ("gpu", "igpu")] == []


def mapped_ggml_files() -> set[str]:
    maps = Path("/proc/self/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if "/libggml." in line}


def test_ggml_device_api_reaches_llama_cpps_own_registry() -> None:
    """Guards against gpu_devices() passing vacuously: the lookups must resolve and find at
    least the CPU device, without mapping a second libggml, whose separate registry would
    not hold the backends llama.cpp loaded."""
    llama_cpp = pytest.importorskip("llama_cpp")
    llama_cpp.llama_supports_gpu_offload()
    before = mapped_ggml_files() if sys.platform == "linux" else set()
    libraries = ggml_devices._ggml_libraries()
    count = ggml_devices._ggml_function(libraries, "ggml_backend_dev_count", ctypes.c_size_t, [])
    assert count() >= 1
    if sys.platform == "linux":
        assert mapped_ggml_files() == before


@linux_only
def test_detect_summary_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_machine(tmp_path, monkeypatch, allowed={0, 1, 4, 5}, cpu_max="300000 100000")
    write(tmp_path, "sys/fs/cgroup/user.slice/memory.max", f"{12 * GIB}\n")
    write(tmp_path, "sys/fs/cgroup/user.slice/memory.current", f"{3 * GIB}\n")
    # A driver's description with line breaks in it (as OpenBLAS gives) stays on the line.
    blas = GpuDevice("BLAS", "OpenBLAS\n  0.3.26 ", "accel", None, None)
    monkeypatch.setattr(hardware, "gpu_devices", lambda: (blas,))
    assert hardware.detect(tmp_path).summary() == (
        "2 cores (3 threads), 12.0 GiB RAM (7.8 GiB free), OpenBLAS 0.3.26 (accelerator), "
        "no GPU offload in this build"
    )


# --- Degrading instead of raising -----------------------------------------------------------


def test_gpu_probes_without_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    assert hardware.gpu_offload_supported() is False
    assert hardware.gpu_devices() == ()


def test_gpu_devices_when_ggml_library_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> list[object]:
        raise FileNotFoundError("no ggml")

    monkeypatch.setattr(ggml_devices, "_ggml_libraries", missing)
    assert hardware.gpu_devices() == ()


def test_parsers_return_none_on_an_empty_root(tmp_path: Path) -> None:
    assert linux._linux_physical_cores(tmp_path) is None
    assert linux._linux_cpu_quota(tmp_path) is None
    assert linux._linux_memory(tmp_path) is None


# --- Linux CPU parsers ----------------------------------------------------------------------


def test_hyperthreaded_cores_count_once(tmp_path: Path) -> None:
    for cpu in range(4):  # 2 cores x 2 threads; Linux numbers the siblings 0,2 and 1,3
        fake_cpu(tmp_path, cpu, core=cpu % 2, siblings=f"{cpu % 2},{cpu % 2 + 2}")
    assert linux._linux_physical_cores(tmp_path) == 2
    assert linux._linux_physical_cores(tmp_path, allowed={0, 2}) == 1
    assert linux._linux_physical_cores(tmp_path, allowed={0, 1}) == 2


def test_core_ids_repeat_across_packages(tmp_path: Path) -> None:
    for cpu in range(4):  # 2 sockets x 2 cores, no sibling lists
        fake_cpu(tmp_path, cpu, core=cpu % 2, package=cpu // 2)
    assert linux._linux_physical_cores(tmp_path) == 4


def test_cpuinfo_fallback(tmp_path: Path) -> None:
    blocks = [f"processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {cpu % 2}\n" for cpu in range(4)]
    write(tmp_path, "proc/cpuinfo", "\n".join(blocks))
    assert linux._linux_physical_cores(tmp_path) == 2
    assert linux._linux_physical_cores(tmp_path, allowed={1, 3}) == 1


def test_cpuinfo_without_core_ids_is_unknown(tmp_path: Path) -> None:
    write(tmp_path, "proc/cpuinfo", "processor\t: 0\n\nprocessor\t: 1\n")
    assert linux._linux_physical_cores(tmp_path) is None


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("150000 100000\n", 2), ("50000 100000\n", 1), ("400000 100000\n", 4), ("max 100000\n", None)],
)
def test_cgroup_v2_cpu_quota(tmp_path: Path, cpu_max: str, expected: int | None) -> None:
    write(tmp_path, "proc/self/cgroup", "0::/\n")
    write(tmp_path, "sys/fs/cgroup/cpu.max", cpu_max)
    assert linux._linux_cpu_quota(tmp_path) == expected


def test_cgroup_v2_quota_on_a_parent_binds(tmp_path: Path) -> None:
    write(tmp_path, "proc/self/cgroup", "0::/pod/app\n")
    write(tmp_path, "sys/fs/cgroup/pod/cpu.max", "200000 100000\n")
    write(tmp_path, "sys/fs/cgroup/pod/app/cpu.max", "max 100000\n")
    assert linux._linux_cpu_quota(tmp_path) == 2


def test_cgroup_v1_cpu_quota(tmp_path: Path) -> None:
    write(tmp_path, "proc/self/cgroup", "3:cpu,cpuacct:/docker/abc\n")
    write(tmp_path, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "250000\n")
    write(tmp_path, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    assert linux._linux_cpu_quota(tmp_path) == 3
    write(tmp_path, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
    assert linux._linux_cpu_quota(tmp_path) is None


# --- Linux memory parsers -------------------------------------------------------------------

MEMINFO = """\
MemTotal:       16384000 kB
MemFree:         1000000 kB
MemAvailable:    8192000 kB
Buffers:          100000 kB
Cached:          2000000 kB
HugePages_Total:       0
"""


def test_meminfo_parsing() -> None:
    info = linux._parse_meminfo(MEMINFO)
    assert info["MemTotal"] == 16384000 * 1024
    assert info["MemAvailable"] == 8192000 * 1024
    assert info["HugePages_Total"] == 0


def test_memory_without_cgroup_limit(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", MEMINFO)
    write(tmp_path, "proc/self/cgroup", "0::/\n")
    write(tmp_path, "sys/fs/cgroup/memory.max", "max\n")
    assert linux._linux_memory(tmp_path) == (16384000 * 1024, 8192000 * 1024)


def test_memory_before_memavailable_existed(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", MEMINFO.replace("MemAvailable:    8192000 kB\n", ""))
    assert linux._linux_memory(tmp_path) == (16384000 * 1024, 3100000 * 1024)


def test_cgroup_v2_memory_limit_below_memtotal(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", MEMINFO)
    write(tmp_path, "proc/self/cgroup", "0::/\n")
    write(tmp_path, "sys/fs/cgroup/memory.max", f"{4 * GIB}\n")
    write(tmp_path, "sys/fs/cgroup/memory.current", f"{2 * GIB}\n")
    write(tmp_path, "sys/fs/cgroup/memory.stat", f"anon 1\ninactive_file {GIB}\n")
    # Inactive page cache is reclaimable, so 4 GiB - (2 GiB - 1 GiB) is still available.
    assert linux._linux_memory(tmp_path) == (4 * GIB, 3 * GIB)


def test_cgroup_v1_memory_limit(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", MEMINFO)
    write(tmp_path, "proc/self/cgroup", "4:memory:/docker/abc\n")
    write(tmp_path, "sys/fs/cgroup/memory/memory.limit_in_bytes", f"{2 * GIB}\n")
    write(tmp_path, "sys/fs/cgroup/memory/memory.usage_in_bytes", f"{GIB}\n")
    assert linux._linux_memory(tmp_path) == (2 * GIB, GIB)


def test_cgroup_memory_limit_above_memtotal_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", MEMINFO)
    write(tmp_path, "proc/self/cgroup", "4:memory:/\n")
    write(tmp_path, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    assert linux._linux_memory(tmp_path) == (16384000 * 1024, 8192000 * 1024)


# --- Other platforms' parsers ---------------------------------------------------------------


def test_vm_stat_parsing() -> None:
    text = (
        "Mach Virtual Memory Statistics: (page size of 16384 bytes)\n"
        "Pages free:                               10000.\n"
        "Pages active:                            500000.\n"
        "Pages inactive:                           20000.\n"
        "Pages speculative:                         3000.\n"
        "Pages wired down:                        100000.\n"
    )
    assert macos._parse_vm_stat(text) == 33000 * 16384
    assert macos._parse_vm_stat("garbage") is None


def test_windows_processor_records_are_counted() -> None:
    def record(relationship: int, size: int) -> bytes:
        return struct.pack("<II", relationship, size) + bytes(size - 8)

    records = record(0, 48) + record(0, 48) + record(2, 80) + record(0, 48)
    assert windows._count_processor_cores(records) == 3
    assert windows._count_processor_cores(struct.pack("<II", 0, 0)) == 0  # no endless loop


# --- Hardware --------------------------------------------------------------------------------


def test_summary_and_vram_with_gpus() -> None:
    gpus = (
        GpuDevice("CUDA0", "NVIDIA GeForce RTX 4060", "gpu", 7 * GIB, 8 * GIB),
        GpuDevice("BLAS", "OpenBLAS\n", "accel", None, None),
    )
    machine = Hardware(8, 16, 32 * GIB, 20 * GIB, True, gpus)
    assert machine.vram_free_bytes == 7 * GIB
    assert machine.summary() == (
        "8 cores (16 threads), 32.0 GiB RAM (20.0 GiB free), "
        "NVIDIA GeForce RTX 4060 (GPU, 7.0 GiB free of 8.0 GiB), OpenBLAS (accelerator)"
    )


def test_summary_without_gpu() -> None:
    machine = Hardware(1, 2, 0, 0, False, ())
    assert machine.vram_free_bytes is None
    assert machine.summary() == "1 core (2 threads), RAM unknown, no GPU offload in this build"
