"""Line parsing shared by the Linux and macOS probes."""

from __future__ import annotations

from collections.abc import Iterator


def _key_values(text: str) -> Iterator[tuple[str, str]]:
    """Yield `key: value` lines (meminfo, cpuinfo, vm_stat), both sides stripped."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip(), value.strip()
