"""Linux probes: CPU topology and memory from sysfs/procfs, tightened by cgroup limits."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from desktop_app.core.hardware._text import _key_values


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


def _space_values(text: str) -> Iterator[tuple[str, int]]:
    """Yield `key value` lines with integer values (cgroup memory.stat)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            yield fields[0], int(fields[1])
