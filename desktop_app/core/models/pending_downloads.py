"""Unfinished downloads, remembered so they can be shown and resumed after a restart.

The part's path depends on the file's sha256, which only the hub can tell; without this
record a restarted app (possibly offline) could not say "paused at 41 %" nor delete the
part on Cancel. The record is a convenience: a lost one only means the next download
asks the hub again and still resumes, because the part's path is derived from the sha256.
Two processes (the CLI beside the app) may each rewrite the file and drop the other's
newest entry; the parts themselves are safe, under huggingface_hub's per-blob lock.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from desktop_app import atomic, paths
from desktop_app.core.models import hf_cache

_lock = threading.Lock()  # download threads update the record file concurrently


@dataclass(frozen=True)
class Pending:
    """An unfinished download found on disk: how far it got, where its bytes are."""

    part: Path
    done: int
    total: int


def pending(repo_id: str, filename: str, revision: str = "main") -> Pending | None:
    """The unfinished download of this file, if one was left (paused, failed, app closed)."""
    record = _record(repo_id, filename, revision)
    if record is None:
        return None
    try:
        part = Path(record["part"])
        return Pending(part, part.stat().st_size, int(record["size"]))
    except (KeyError, TypeError, ValueError, OSError):
        return None


def discard(repo_id: str, filename: str, revision: str = "main") -> bool:
    """Delete an unfinished download (Cancel on a paused one).

    False when another program (or Folio window) is writing that part right now: its
    download is not ours to delete.
    """
    part = _recorded_part(repo_id, filename, revision)
    if part is not None and not _delete(part, repo_id):
        return False
    forget(repo_id, filename, revision)
    return True


def drop_stale(repo_id: str, filename: str, revision: str, keep: Path | None = None) -> None:
    """Delete a remembered part other than `keep`: the file is complete now, or changed.

    Without this, a part of an old version of the file (the branch moved to a new commit)
    or one that another tool completed would sit in the cache, gigabytes, forever.
    """
    part = _recorded_part(repo_id, filename, revision)
    if part is not None and part != keep and _delete(part, repo_id):
        forget(repo_id, filename, revision)


def _recorded_part(repo_id: str, filename: str, revision: str) -> Path | None:
    record = _record(repo_id, filename, revision)
    try:
        return Path(record["part"]) if record is not None else None
    except (KeyError, TypeError):
        return None


def _record(repo_id: str, filename: str, revision: str) -> dict[str, Any] | None:
    record = _records().get(_key(repo_id, filename, revision))
    return record if isinstance(record, dict) else None


def _delete(part: Path, repo_id: str) -> bool:
    """Delete `part` under its blob's lock; False if someone is writing it."""
    cache = part.parents[2]  # <cache>/models--org--name/blobs/<sha256>.incomplete
    lock = hf_cache.lock_path(cache, repo_id, part.name.removesuffix(".incomplete"))
    try:
        with FileLock(lock, timeout=0):
            part.unlink(missing_ok=True)
    except Timeout:
        return False
    except OSError:  # no lock folder (a cache cleaned by hand): nobody can be writing
        part.unlink(missing_ok=True)
    return True


def remember(
    repo_id: str, filename: str, revision: str, part: Path, size: int, sha256: str
) -> None:
    with _lock:
        records = _records()
        records[_key(repo_id, filename, revision)] = {
            "part": str(part), "size": size, "sha256": sha256,
        }  # fmt: skip
        _write(records)


def forget(repo_id: str, filename: str, revision: str) -> None:
    with _lock:
        records = _records()
        if records.pop(_key(repo_id, filename, revision), None) is not None:
            _write(records)


def _write(records: dict[str, Any]) -> None:
    # No fsync: a record lost in a power cut only costs one metadata request, while an
    # fsync right after a 5 GB download waited 0.3 s per 512 MB here for its dirty pages.
    atomic.write_json(_path(), records, fsync=False)


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
