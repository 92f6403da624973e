"""Download a model file from the Hugging Face hub, resumably and verified.

We ask `huggingface_hub` only for the file's metadata (size, sha256, where the
bytes live) and stream the bytes ourselves: `hf_hub_download` resumes, but it
offers no way to pause or cancel from another thread and writes into its own
cache layout, while Folio wants a plain file in its models folder.

The bytes go to `<dest>/<name>.part`. Its size *is* the resume point, so a
paused or interrupted download continues from there, also in a new process.
Only after the sha256 of the whole file matches the hub's LFS etag is it
renamed to its final name, so a file with the final name is always complete.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session

from desktop_app.errors import FolioError

# Kept free beyond the file itself: a disk filled to the last byte breaks the
# OS and Folio's own settings/chat writes long before the model is used.
DISK_MARGIN = 256 << 20
# Speed is averaged over this many seconds: long enough to smooth out bursts,
# short enough that the ETA follows a real change of bandwidth.
_RATE_WINDOW_S = 5.0
_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes on disk so far (including a resumed part) out of `total`.

    `bytes_per_s` and `eta_s` are None until enough time has passed to say.
    """

    done: int
    total: int
    bytes_per_s: float | None
    eta_s: float | None


class DownloadError(FolioError):
    """The download failed; the message says why and what to do."""


class DownloadPaused(DownloadError):
    """Stopped on request; the `.part` file is kept so a later call resumes."""


class DownloadCancelled(DownloadError):
    """Stopped on request; the `.part` file was deleted."""


@dataclass(frozen=True)
class _Remote:
    url: str  # where the bytes are (a CDN URL for LFS files on the real hub)
    size: int
    sha256: str


def partial_path(dest_dir: Path, filename: str) -> Path:
    """Where an unfinished download of `filename` is kept (to show or discard it)."""
    return dest_dir / f"{Path(filename).name}.part"


def download(
    repo_id: str,
    filename: str,
    dest_dir: Path,
    *,
    revision: str = "main",
    token: str | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    chunk_size: int = 1 << 20,
    endpoint: str | None = None,
) -> Path:
    """Download `filename` of `repo_id` into `dest_dir` and return the verified file.

    `endpoint` defaults to the hub `huggingface_hub` is configured for: the
    `HF_ENDPOINT` it read at import (it bakes it into its URL template then).
    `pause` set → stop and keep the `.part` file (raises `DownloadPaused`);
    `cancel` set → stop and delete it (raises `DownloadCancelled`); both are
    checked between chunks, so they act within one `chunk_size`. A cancel that
    is already set discards a paused download without touching the network.
    Any other failure raises `DownloadError` and keeps the part for resuming,
    except a checksum mismatch, which deletes it: those bytes are useless.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / Path(filename).name
    part = partial_path(dest_dir, filename)
    if cancel is not None and cancel.is_set():
        part.unlink(missing_ok=True)
        raise DownloadCancelled(f"The download of {final.name} was cancelled.")

    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    remote = _metadata(endpoint, repo_id, filename, revision, token)
    if final.exists() and final.stat().st_size == remote.size and _sha256(final) == remote.sha256:
        return final
    have = part.stat().st_size if part.exists() else 0
    if have > remote.size:  # left over from another version of the file
        part.unlink()
        have = 0
    _check_disk_space(dest_dir, remote.size - have)
    if have < remote.size:
        headers = _headers(endpoint, remote.url, token)
        try:
            _fetch(remote, part, have, headers, cancel, pause, progress, chunk_size)
        except DownloadCancelled:
            part.unlink(missing_ok=True)  # only now: Windows can't delete an open file
            raise
    if _sha256(part) != remote.sha256:
        part.unlink()
        raise DownloadError(
            f"The download of {final.name} is corrupt (checksum mismatch); it was deleted. "
            "Please try again."
        )
    os.replace(part, final)
    return final


def _metadata(
    endpoint: str, repo_id: str, filename: str, revision: str, token: str | None
) -> _Remote:
    """Size, sha256 and byte location of the file, with errors turned into words."""
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
    return _Remote(url=meta.location, size=meta.size, sha256=meta.etag)


def _status_hint(status: int | str) -> str:
    if status in (401, 403):
        return "access denied (the repository may be private or gated; a token may be needed)."
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


def _check_disk_space(dest_dir: Path, remaining: int) -> None:
    free = shutil.disk_usage(dest_dir).free
    if free < remaining + DISK_MARGIN:
        raise DownloadError(
            f"Not enough disk space: needs {_gib(remaining + DISK_MARGIN)}, "
            f"{_gib(free)} free in {dest_dir}."
        )


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _fetch(
    remote: _Remote,
    part: Path,
    have: int,
    headers: dict[str, str],
    cancel: threading.Event | None,
    pause: threading.Event | None,
    progress: Callable[[DownloadProgress], None] | None,
    chunk_size: int,
) -> None:
    """Append the bytes after `have` to `part`; restart at zero if Range is ignored."""
    if have:
        headers = {**headers, "Range": f"bytes={have}-"}
    try:
        with get_session().stream("GET", remote.url, headers=headers, timeout=_TIMEOUT) as resp:
            if resp.status_code == 200:
                have = 0  # the server sent the whole file, not the rest
            elif resp.status_code != 206 or not _range_starts_at(resp, have):
                raise DownloadError(
                    f"The server answered {resp.status_code} while downloading {part.stem}. "
                    "Please try again later."
                )
            with part.open("r+b" if part.exists() else "wb") as out:
                out.truncate(have)
                out.seek(have)
                done = have
                rate = _Rate(have)
                for chunk in resp.iter_bytes(chunk_size):
                    _check_stop(part, cancel, pause)
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(rate.progress(done, remote.size))
    except httpx2.TransportError as exc:
        raise DownloadError(
            f"The connection was lost while downloading {part.stem}. "
            "Start the download again to resume where it stopped."
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DownloadError(
                f"The disk is full ({part.parent}). Free some space and start the download "
                "again to resume."
            ) from exc
        raise DownloadError(f"Could not write {part}: {exc.strerror or exc}.") from exc
    if done != remote.size:
        raise DownloadError(
            f"The connection was closed after {done} of {remote.size} bytes of {part.stem}. "
            "Start the download again to resume where it stopped."
        )


def _range_starts_at(resp: httpx2.Response, start: int) -> bool:
    """A 206 must be the range we asked for, or appending would corrupt the file."""
    return resp.headers.get("Content-Range", "").startswith(f"bytes {start}-")


def _check_stop(part: Path, cancel: threading.Event | None, pause: threading.Event | None) -> None:
    """Cancel wins over pause: a user who cancels a paused download wants it gone."""
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled(f"The download of {part.stem} was cancelled.")
    if pause is not None and pause.is_set():
        raise DownloadPaused(f"The download of {part.stem} is paused.")


def _sha256(path: Path) -> str:
    """Streamed, so a 5.7 GB file never has to fit in memory."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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
