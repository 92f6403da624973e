"""Atomic file writes: a crash mid-write must never leave a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`.

    `os.replace` is atomic on POSIX and Windows when both names are on the
    same volume, which the same-folder temp file guarantees. `fsync=False` keeps the
    rename atomic but skips the flush, for files whose loss after a power cut is harmless:
    on ext4 an fsync right after a big download waits for all of its dirty pages.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: Path, value: Any, *, fsync: bool = True) -> None:
    data = (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
    write_bytes(path, data, fsync=fsync)
