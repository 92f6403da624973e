"""Unfinished downloads, remembered so they can be shown and resumed after a restart.

The part's path depends on the file's sha256, which only the hub can tell; without this
record a restarted app (possibly offline) could not say "paused at 41 %" nor delete the
part on Cancel. The record is a convenience: a lost one only means the next download
asks the hub again and still resumes, because the part's path is derived from the sha256.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app import atomic, paths

_lock = threading.Lock()  # download threads update the record file concurrently


@dataclass(frozen=True)
class Pending:
    """An unfinished download found on disk: how far it got, where its bytes are."""

    part: Path
    done: int
    total: int


def pending(repo_id: str, filename: str, revision: str = "main") -> Pending | None:
    """The unfinished download of this file, if one was left (paused, failed, app closed)."""
    record = _records().get(_key(repo_id, filename, revision))
    if not isinstance(record, dict):
        return None
    try:
        part = Path(record["part"])
        return Pending(part, part.stat().st_size, int(record["size"]))
    except (KeyError, TypeError, ValueError, OSError):
        return None


def discard(repo_id: str, filename: str, revision: str = "main") -> None:
    """Delete an unfinished download that no thread is writing (Cancel on a paused one)."""
    found = pending(repo_id, filename, revision)
    if found is not None:
        found.part.unlink(missing_ok=True)
    forget(repo_id, filename, revision)


def remember(
    repo_id: str, filename: str, revision: str, part: Path, size: int, sha256: str
) -> None:
    with _lock:
        records = _records()
        records[_key(repo_id, filename, revision)] = {
            "part": str(part), "size": size, "sha256": sha256,
        }  # fmt: skip
        atomic.write_json(_path(), records)


def forget(repo_id: str, filename: str, revision: str) -> None:
    with _lock:
        records = _records()
        if records.pop(_key(repo_id, filename, revision), None) is not None:
            atomic.write_json(_path(), records)


def _key(repo_id: str, filename: str, revision: str) -> str:
    return f"{repo_id}/{filename}@{revision}"


def _path() -> Path:
    return paths.data_dir() / "downloads.json"


def _records() -> dict[str, Any]:
    """The record file; unreadable means empty (it only helps to show state offline)."""
    try:
        value = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
