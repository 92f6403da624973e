"""Download a model file from the Hugging Face hub into the shared hub cache, resumably.

We ask `huggingface_hub` only for the file's metadata (size, sha256, commit, where the
bytes live) and stream the bytes ourselves: `hf_hub_download` offers no way to pause or
cancel from another thread and, since 2.x, restarts an interrupted file from zero. The
bytes land in the cache layout `huggingface_hub` itself uses (`core/hf_cache.py`), so the
file is shared with every other tool that reads that cache.

The bytes go to `blobs/<sha256>.incomplete`. Its size *is* the resume point, so a paused
or interrupted download continues from there, also in a new process; the sha256 is
computed as bytes arrive (a resumed part is hashed once first). Only when it matches the
hub's LFS etag does the part become the blob, so a blob is always complete.
`pending_downloads` remembers each unfinished one for the Models page.
"""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import httpx2
from filelock import FileLock, Timeout
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session

from desktop_app.core.models import hf_cache, pending_downloads
from desktop_app.errors import FolioError

# Kept free beyond the file itself: a disk filled to the last byte breaks the
# OS and Folio's own settings/chat writes long before the model is used.
DISK_MARGIN = 256 << 20
# Speed is averaged over this many seconds: long enough to smooth out bursts,
# short enough that the ETA follows a real change of bandwidth.
_RATE_WINDOW_S = 5.0
_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HASH_BLOCK = 4 << 20
_Hash = Any  # hashlib's hash object (its class is private)


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes on disk so far (including a resumed part) out of `total`.

    `bytes_per_s` and `eta_s` are None until enough time has passed to say. `phase` is
    "checking" while a resumed part is hashed before new bytes are asked for.
    """

    done: int
    total: int
    bytes_per_s: float | None
    eta_s: float | None
    phase: Literal["checking", "downloading"] = "downloading"


class DownloadError(FolioError):
    """The download failed; the message says why and what to do."""


class DownloadPaused(DownloadError):
    """Stopped on request; the part is kept so a later call resumes."""


class DownloadCancelled(DownloadError):
    """Stopped on request; the part was deleted."""


@dataclass(frozen=True)
class _Remote:
    url: str  # where the bytes are (a CDN URL for LFS files on the real hub)
    size: int
    sha256: str
    commit: str


def download(
    repo_id: str,
    filename: str,
    *,
    revision: str = "main",
    cache_dir: Path | None = None,
    token: str | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    chunk_size: int | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download `filename` of `repo_id` into the hub cache and return the verified file.

    A file already in the cache is returned without touching the network. `cache_dir`
    defaults to the user's hub cache (`hf_cache.hub_cache_dir`); `endpoint` to the hub
    `huggingface_hub` is configured for (it bakes `HF_ENDPOINT` into its URL template at
    import). `token` None means the user's own Hugging Face login, if any.
    `pause` set → stop and keep the part (raises `DownloadPaused`); `cancel` set → stop
    and delete it (raises `DownloadCancelled`); both are checked between chunks, so they
    act within one chunk: `chunk_size` bytes, or by default whatever one network read
    delivered, so a slow link still pauses at once (httpx would otherwise wait to fill it).
    Any other failure raises `DownloadError` and keeps the part for resuming, except a
    checksum mismatch, which deletes it: those bytes are useless.
    """
    cache = hf_cache.hub_cache_dir() if cache_dir is None else cache_dir
    cached = hf_cache.cached_file(cache, repo_id, filename, revision)
    if cached is not None:
        pending_downloads.drop_stale(repo_id, filename, revision)  # done by another tool
        return cached
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    remote = _metadata(endpoint, repo_id, filename, revision, token)
    stop = _Controls(cancel, pause, progress, chunk_size)
    try:
        return _into_cache(cache, repo_id, filename, revision, remote, endpoint, token, stop)
    except Timeout:
        raise DownloadError(
            f"{filename} is already being downloaded by another program or Folio window; "
            "wait for it to finish."
        ) from None
    except OSError as exc:  # creating folders, the record, the lock, the link
        raise DownloadError(_disk_message(exc, cache)) from exc


@dataclass(frozen=True)
class _Controls:
    """How the caller steers and watches one download."""

    cancel: threading.Event | None
    pause: threading.Event | None
    progress: Callable[[DownloadProgress], None] | None
    chunk_size: int | None


def _into_cache(
    cache: Path,
    repo_id: str,
    filename: str,
    revision: str,
    remote: _Remote,
    endpoint: str,
    token: str | None,
    stop: _Controls,
) -> Path:
    """Under the blob's lock: reuse the blob if it is there, else fetch, verify and store it."""
    blob = hf_cache.blob_path(cache, repo_id, remote.sha256)
    part = hf_cache.incomplete_path(cache, repo_id, remote.sha256)
    lock = hf_cache.lock_path(cache, repo_id, remote.sha256)
    part.parent.mkdir(parents=True, exist_ok=True)
    lock.parent.mkdir(parents=True, exist_ok=True)
    # A part of another version of the file (the branch moved on) will never be finished.
    pending_downloads.drop_stale(repo_id, filename, revision, keep=part)
    with FileLock(lock, timeout=0):
        if blob.is_file() and blob.stat().st_size == remote.size:  # another tool finished it
            part.unlink(missing_ok=True)
            pending_downloads.forget(repo_id, filename, revision)
            return hf_cache.link(cache, repo_id, filename, revision, remote.commit,
                                 remote.sha256, new_blob=False)  # fmt: skip
        pending_downloads.remember(repo_id, filename, revision, part, remote.size, remote.sha256)
        try:
            _fetch_verified(remote, part, filename, endpoint, token, stop)
        except DownloadError as exc:
            if isinstance(exc, DownloadCancelled):
                part.unlink(missing_ok=True)  # only now: Windows can't delete an open file
            if not part.exists():  # cancelled or corrupt: nothing left to resume
                pending_downloads.forget(repo_id, filename, revision)
            raise
        path = hf_cache.store(part, cache, repo_id, filename, revision, remote.commit,
                              remote.sha256)  # fmt: skip
        pending_downloads.forget(repo_id, filename, revision)
        return path


def _disk_message(exc: OSError, folder: Path) -> str:
    """A file-system failure in words, with what the user can do about it."""
    if exc.errno == errno.ENOSPC:
        return (
            f"The disk is full ({folder}). Free some space and start the download again to resume."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Folio may not write to the model cache {folder} ({exc.strerror}). "
            "Set HF_HUB_CACHE to a folder you can write to."
        )
    return f"Could not write to the model cache {folder}: {exc.strerror or exc}."


def _metadata(
    endpoint: str, repo_id: str, filename: str, revision: str, token: str | None
) -> _Remote:
    """Size, sha256, commit and byte location of the file, with errors turned into words."""
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=_TIMEOUT.connect, endpoint=endpoint)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise DownloadError(
            f"The server answered {status} for {repo_id}/{filename} (revision {revision}): "
            f"{_status_hint(status)}"
        ) from exc
    except (httpx2.TransportError, OfflineModeIsEnabled) as exc:
        raise DownloadError(
            f"No network connection: cannot reach {endpoint}. "
            "Check your internet connection and try again."
        ) from exc
    # For LFS files (every GGUF) the hub's etag is the sha256 of the content;
    # anything else would leave us unable to verify 5 GB of bytes.
    if meta.size is None or meta.etag is None or not _SHA256.fullmatch(meta.etag):
        raise DownloadError(
            f"The server did not give the size and checksum of {repo_id}/{filename}, "
            "so the download could not be verified."
        )
    commit = meta.commit_hash or revision
    return _Remote(url=meta.location, size=meta.size, sha256=meta.etag, commit=commit)


def _status_hint(status: int | str) -> str:
    if status in (401, 403):
        return (
            "access denied. The repository may be private or gated: accept its terms on "
            "huggingface.co and give Folio an access token."
        )
    if status == 404:
        return "the repository or file does not exist."
    if status == 429:
        return "too many requests; wait a few minutes and try again."
    return "please try again later."


def _headers(endpoint: str, url: str, token: str | None) -> dict[str, str]:
    """Hub headers; the token only goes to the hub itself, never to a CDN."""
    same_host = urlparse(url).netloc == urlparse(endpoint).netloc
    headers = build_hf_headers(token=token) if same_host else build_hf_headers(token=False)
    headers["Accept-Encoding"] = "identity"  # byte counts must match the file on disk
    return headers


def _check_disk_space(folder: Path, remaining: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < remaining + DISK_MARGIN:
        raise DownloadError(
            f"Not enough disk space: needs {_gib(remaining + DISK_MARGIN)}, "
            f"{_gib(free)} free in {folder}."
        )


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _fetch_verified(
    remote: _Remote, part: Path, filename: str, endpoint: str, token: str | None, stop: _Controls
) -> None:
    """Complete `part` and check its sha256; a mismatch deletes it."""
    have = part.stat().st_size if part.exists() else 0
    if have > remote.size:  # cannot be this file: start over
        part.unlink()
        have = 0
    _check_stop(stop)
    _check_disk_space(part.parent, remote.size - have)
    digest = hashlib.sha256()
    if have:
        if stop.progress is not None:
            stop.progress(DownloadProgress(have, remote.size, None, None, phase="checking"))
        _hash_part(part, have, digest, stop)
    if have < remote.size:
        digest = _fetch(remote, part, have, digest, _headers(endpoint, remote.url, token), stop)
    if digest.hexdigest() != remote.sha256:
        part.unlink()
        raise DownloadError(
            f"The download of {filename} is corrupt (checksum mismatch); it was deleted. "
            "Please try again."
        )


def _hash_part(part: Path, have: int, digest: _Hash, stop: _Controls) -> None:
    """Feed the bytes already on disk to `digest`, stoppable between blocks."""
    with part.open("rb") as f:
        left = have
        while left:
            _check_stop(stop)
            block = f.read(min(_HASH_BLOCK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)


def _fetch(
    remote: _Remote,
    part: Path,
    have: int,
    digest: _Hash,
    headers: dict[str, str],
    stop: _Controls,
) -> _Hash:
    """Append the bytes after `have` to `part`; restart at zero if Range is ignored.

    Returns the digest of the whole part (a fresh one when the server sent everything).
    """
    if have:
        headers = {**headers, "Range": f"bytes={have}-"}
    try:
        with get_session().stream("GET", remote.url, headers=headers, timeout=_TIMEOUT) as resp:
            if resp.status_code == 200:
                have, digest = 0, hashlib.sha256()  # the server sent the whole file
            elif resp.status_code != 206 or not _range_starts_at(resp, have):
                raise DownloadError(
                    f"The server answered {resp.status_code} while downloading the model. "
                    "Please try again later."
                )
            with part.open("r+b" if part.exists() else "wb") as out:
                out.truncate(have)
                out.seek(have)
                done = have
                rate = _Rate(have)
                for chunk in resp.iter_bytes(stop.chunk_size):
                    _check_stop(stop)
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if stop.progress is not None:
                        stop.progress(rate.progress(done, remote.size))
    except httpx2.TransportError as exc:
        raise DownloadError(
            "The connection was lost while downloading the model. "
            "Start the download again to resume where it stopped."
        ) from exc
    except OSError as exc:
        raise DownloadError(_disk_message(exc, part.parent)) from exc
    if done != remote.size:
        raise DownloadError(
            f"The connection was closed after {done} of {remote.size} bytes. "
            "Start the download again to resume where it stopped."
        )
    return digest


def _range_starts_at(resp: httpx2.Response, start: int) -> bool:
    """A 206 must be the range we asked for, or appending would corrupt the file."""
    return resp.headers.get("Content-Range", "").startswith(f"bytes {start}-")


def _check_stop(stop: _Controls) -> None:
    """Cancel wins over pause: a user who cancels a paused download wants it gone."""
    if stop.cancel is not None and stop.cancel.is_set():
        raise DownloadCancelled("The download was cancelled.")
    if stop.pause is not None and stop.pause.is_set():
        raise DownloadPaused("The download is paused.")


class _Rate:
    """Speed over a sliding window, so the ETA reacts to a changed bandwidth."""

    def __init__(self, done: int) -> None:
        self._samples: deque[tuple[float, int]] = deque([(time.monotonic(), done)])

    def progress(self, done: int, total: int) -> DownloadProgress:
        now = time.monotonic()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= _RATE_WINDOW_S:
            self._samples.popleft()
        t0, d0 = self._samples[0]
        if now - t0 < 0.2:  # too short to tell a speed from noise
            return DownloadProgress(done, total, None, None)
        speed = (done - d0) / (now - t0)
        eta = (total - done) / speed if speed > 0 else None
        return DownloadProgress(done, total, speed, eta)
