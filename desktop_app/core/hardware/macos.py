"""macOS probes, through the `sysctl` and `vm_stat` command-line tools."""

from __future__ import annotations

import re
import subprocess

from desktop_app.core.hardware._text import _key_values


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


def _sysctl_int(name: str) -> int | None:
    output = (_run(["/usr/sbin/sysctl", "-n", name]) or "").strip()
    return int(output) if output.isdigit() else None


def _run(command: list[str]) -> str | None:
    """stdout of a short system tool, or None if it is missing, fails or hangs."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout
