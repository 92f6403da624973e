"""The Hugging Face hub cache on disk: where a model file lives once downloaded.

Folio downloads into the same cache `huggingface_hub`, `hf download`, transformers and
llama.cpp's `-hf` use, in the same layout, so a 5.7 GB model is never stored twice:

    <cache>/models--org--name/blobs/<sha256>                  the bytes, named by content
    <cache>/models--org--name/snapshots/<commit>/<filename>  a relative link to the blob
    <cache>/models--org--name/refs/<revision>                 the commit a branch pointed at
    <cache>/.locks/models--org--name/<sha256>.lock            held while a blob is written

Everything here is local file work (no network), so discovery, `folio models use` and the
Models page can tell "downloaded" without a connection.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

_COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_cache_dir(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """The cache as huggingface_hub finds it: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache.

    Read at call time (huggingface_hub reads it once, at import), so tests and a user who
    changes the variable between runs get the folder they expect.
    """
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
    return (Path.home() if home is None else home) / ".cache" / "huggingface" / "hub"


def repo_dir(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def blob_path(cache: Path, repo_id: str, sha256: str) -> Path:
    return repo_dir(cache, repo_id) / "blobs" / sha256


def incomplete_path(cache: Path, repo_id: str, sha256: str) -> Path:
    """The part being downloaded: its size is the resume point, also for a new process."""
    return blob_path(cache, repo_id, sha256).with_name(f"{sha256}.incomplete")


def lock_path(cache: Path, repo_id: str, sha256: str) -> Path:
    """huggingface_hub's own lock file, so Folio and `hf download` never write one blob twice."""
    return cache / ".locks" / repo_dir(cache, repo_id).name / f"{sha256}.lock"


def snapshot_path(cache: Path, repo_id: str, commit: str, filename: str) -> Path:
    return repo_dir(cache, repo_id) / "snapshots" / commit / filename


def cached_file(cache: Path, repo_id: str, filename: str, revision: str = "main") -> Path | None:
    """The downloaded file for `revision` (a branch, tag or commit), or None if there is none.

    A snapshot entry whose blob is gone (a cache cleaned by hand) counts as not downloaded.
    """
    commit = revision  # a commit hash, or a mirror that named no commit (see `link`)
    if not _COMMIT.fullmatch(revision):
        try:
            commit = (repo_dir(cache, repo_id) / "refs" / revision).read_text().strip()
        except OSError:
            pass
    path = snapshot_path(cache, repo_id, commit, filename)
    return path if path.is_file() else None


def store(
    part: Path, cache: Path, repo_id: str, filename: str, revision: str, commit: str, sha256: str
) -> Path:
    """Move a verified part into its blob and point the snapshot (and ref) at it.

    Returns the snapshot path, which is what other tools will look up. Where the file system
    refuses links (Windows without developer mode), the blob itself moves into the snapshot,
    as huggingface_hub does there.
    """
    blob = blob_path(cache, repo_id, sha256)
    os.replace(part, blob)
    return link(cache, repo_id, filename, revision, commit, sha256, new_blob=True)


def link(
    cache: Path,
    repo_id: str,
    filename: str,
    revision: str,
    commit: str,
    sha256: str,
    *,
    new_blob: bool,
) -> Path:
    """Make `snapshots/<commit>/<filename>` name the blob and `refs/<revision>` name the commit.

    Without links, a `new_blob` moves into the snapshot; an existing one is copied, since
    another revision's snapshot may be using it.
    """
    blob = blob_path(cache, repo_id, sha256)
    pointer = snapshot_path(cache, repo_id, commit, filename)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not pointer.is_file():
        pointer.unlink(missing_ok=True)  # a link to a blob that was deleted
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:
            if new_blob:
                os.replace(blob, pointer)
            else:
                shutil.copyfile(blob, pointer)
    if revision != commit:
        ref = repo_dir(cache, repo_id) / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file() or ref.read_text().strip() != commit:
            tmp = ref.with_name(f".{ref.name}.{os.getpid()}.tmp")
            tmp.write_text(commit)
            os.replace(tmp, ref)
    return pointer
