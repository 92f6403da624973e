"""Downloads into the shared hub cache, against a local stand-in for the Hugging Face hub."""

from __future__ import annotations

import errno
import hashlib
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from filelock import FileLock
from huggingface_hub import try_to_load_from_cache

from desktop_app.core.models import hf_cache
from desktop_app.core.models.downloads import (
    DownloadCancelled,
    DownloadError,
    DownloadPaused,
    DownloadProgress,
    download,
)
from desktop_app.core.models.pending_downloads import Pending, discard, pending, remember
from tests.fixtures import hub_server
from tests.fixtures.hub_server import CHUNK, COMMIT, FILE, REPO, HubState
from tests.support import free_port

# The shared hub fixtures, bound here so pytest finds them for this module.
hub = hub_server.hub
source = hub_server.source


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hub-cache"


def _get(cache: Path, endpoint: str, **kwargs: object) -> Path:
    # Passing the endpoint is the only way to redirect huggingface_hub after
    # import: it builds its URL template from HF_ENDPOINT once, at import.
    return download(REPO, FILE, cache_dir=cache, chunk_size=CHUNK, endpoint=endpoint, **kwargs)  # type: ignore[arg-type]


def _part(cache: Path, source: bytes) -> Path:
    return hf_cache.incomplete_path(cache, REPO, hashlib.sha256(source).hexdigest())


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_download_lands_in_the_hub_cache_layout(hub: HubState, source: bytes, cache: Path) -> None:
    seen: list[DownloadProgress] = []

    path = _get(cache, hub.hub_url, progress=seen.append)

    repo = cache / "models--folio-test--tiny"
    sha = hashlib.sha256(source).hexdigest()
    assert path == repo / "snapshots" / COMMIT / FILE
    assert path.is_symlink() and path.resolve() == repo / "blobs" / sha
    assert (repo / "refs" / "main").read_text() == COMMIT
    assert path.read_bytes() == source
    # huggingface_hub itself finds the file: other tools share it, nothing is stored twice.
    assert Path(try_to_load_from_cache(REPO, FILE, cache_dir=cache)) == path
    assert not _part(cache, source).exists() and pending(REPO, FILE) is None
    assert hub.ranges == [None]
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and dones[-1] == len(source)
    assert {p.total for p in seen} == {len(source)}


def test_a_cached_file_is_returned_without_the_network(hub: HubState, cache: Path) -> None:
    first = _get(cache, hub.hub_url)
    assert _get(cache, _closed_port_url()) == first
    assert len(hub.ranges) == 1


def test_without_links_the_blob_moves_into_the_snapshot(
    hub: HubState, source: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(self: Path, target: str) -> None:
        raise OSError("symbolic links are not supported here")

    monkeypatch.setattr(Path, "symlink_to", no_links)
    path = _get(cache, hub.hub_url)
    assert not path.is_symlink() and path.read_bytes() == source
    assert hf_cache.cached_file(cache, REPO, FILE) == path


def test_lost_connection_keeps_part_and_next_call_resumes_with_range(
    hub: HubState, source: bytes, cache: Path
) -> None:
    cut = len(source) // 2
    hub.cut_after = cut

    with pytest.raises(DownloadError, match="connection"):
        _get(cache, hub.hub_url)
    # httpx may drop a last partial chunk; the part's size is the resume point.
    kept = _part(cache, source).stat().st_size
    assert cut - CHUNK < kept <= cut
    assert pending(REPO, FILE) == Pending(_part(cache, source), kept, len(source))

    path = _get(cache, hub.hub_url)
    assert hub.ranges == [None, f"bytes={kept}-"]
    assert hub.served == [cut, len(source) - kept]
    assert path.read_bytes() == source


def test_pause_keeps_part_and_a_new_call_resumes(hub: HubState, source: bytes, cache: Path) -> None:
    pause = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done >= len(source) // 3:
            pause.set()

    with pytest.raises(DownloadPaused):
        _get(cache, hub.hub_url, pause=pause, progress=on_progress)
    kept = _part(cache, source).stat().st_size
    assert 0 < kept < len(source)
    assert pending(REPO, FILE).done == kept  # type: ignore[union-attr]

    # A new call with fresh events is what a restarted app does.
    seen: list[DownloadProgress] = []
    path = _get(cache, hub.hub_url, pause=threading.Event(), progress=seen.append)
    assert hub.ranges[-1] == f"bytes={kept}-"
    assert path.read_bytes() == source
    assert seen[0] == DownloadProgress(kept, len(source), None, None, phase="checking")
    assert seen[1].done > kept and seen[-1].done == len(source)
    assert pending(REPO, FILE) is None


def test_server_ignoring_range_restarts_from_zero(
    hub: HubState, source: bytes, cache: Path
) -> None:
    part = _part(cache, source)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes that are not the file")
    hub.ignore_range = True

    path = _get(cache, hub.hub_url)

    assert hub.ranges == ["bytes=33-"]
    assert path.read_bytes() == source


def test_cancel_deletes_part_and_record(hub: HubState, source: bytes, cache: Path) -> None:
    cancel = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done >= len(source) // 2:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        _get(cache, hub.hub_url, cancel=cancel, progress=on_progress)
    assert not _part(cache, source).exists() and pending(REPO, FILE) is None


def test_a_paused_download_is_discarded_offline(hub: HubState, source: bytes, cache: Path) -> None:
    pause = threading.Event()
    with pytest.raises(DownloadPaused):
        _get(cache, hub.hub_url, pause=pause, progress=lambda p: pause.set())
    assert pending(REPO, FILE).done > 0  # type: ignore[union-attr]

    discard(REPO, FILE)
    assert pending(REPO, FILE) is None and not _part(cache, source).exists()


def test_corrupt_bytes_fail_verification_and_leave_nothing(hub: HubState, cache: Path) -> None:
    hub.sha256 = hashlib.sha256(b"some other file").hexdigest()

    with pytest.raises(DownloadError, match="corrupt"):
        _get(cache, hub.hub_url)
    assert [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".lock"] == []
    assert hf_cache.cached_file(cache, REPO, FILE) is None


def test_a_download_in_another_program_is_not_written_twice(
    hub: HubState, source: bytes, cache: Path
) -> None:
    lock = hf_cache.lock_path(cache, REPO, hashlib.sha256(source).hexdigest())
    lock.parent.mkdir(parents=True)
    errors: list[DownloadError] = []

    def other_program() -> None:  # another thread: a file lock is re-entrant in its own
        try:
            _get(cache, hub.hub_url)
        except DownloadError as exc:
            errors.append(exc)

    with FileLock(lock):  # held, as `hf download` holds it while writing the blob
        thread = threading.Thread(target=other_program)
        thread.start()
        thread.join(10)
    assert "already being downloaded" in str(errors[0])
    assert hub.ranges == []


def test_token_goes_to_the_hub_only(hub: HubState, source: bytes, cache: Path) -> None:
    hub.token = "hf_secret"
    with pytest.raises(DownloadError, match="401 .*access token"):
        _get(cache, hub.hub_url)

    path = _get(cache, hub.hub_url, token="hf_secret")
    assert path.read_bytes() == source
    assert hub.hub_auth[-1] == "Bearer hf_secret"
    assert hub.cdn_auth == [None]  # never leaked to the CDN's origin


def test_missing_file_says_404(hub: HubState, cache: Path) -> None:
    hub.missing = True
    with pytest.raises(DownloadError, match="answered 404 .*does not exist"):
        _get(cache, hub.hub_url)


def test_no_server_says_no_network(cache: Path) -> None:
    with pytest.raises(DownloadError, match="No network connection: cannot reach"):
        _get(cache, _closed_port_url())


def test_too_little_disk_space_fails_before_fetching(
    hub: HubState, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _path: SimpleNamespace(total=1, used=0, free=1)
    )

    with pytest.raises(DownloadError, match=r"Not enough disk space: needs 0\.3 GiB, 0\.0 GiB"):
        _get(cache, hub.hub_url)
    assert hub.ranges == []


def test_a_full_disk_mid_download_says_so_and_keeps_the_part(
    hub: HubState, source: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = Path.open
    written: list[int] = []

    class FullDisk:
        """The part file, on a disk that fills up after two chunks."""

        def __init__(self, f) -> None:
            self._f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def __getattr__(self, name: str):
            return getattr(self._f, name)

        def write(self, data: bytes) -> int:
            if len(written) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(len(data))
            return self._f.write(data)

    def open_on_a_small_disk(self: Path, mode: str = "r", *args: object, **kwargs: object):
        f = real_open(self, mode, *args, **kwargs)
        return FullDisk(f) if self.suffix == ".incomplete" and mode != "rb" else f

    with monkeypatch.context() as patch:
        patch.setattr(Path, "open", open_on_a_small_disk)
        with pytest.raises(DownloadError, match="The disk is full .*Free some space"):
            _get(cache, hub.hub_url)
    assert _part(cache, source).stat().st_size == sum(written)
    assert pending(REPO, FILE) is not None


def test_a_part_of_an_older_version_is_dropped_when_the_file_changed(
    hub: HubState, source: bytes, cache: Path
) -> None:
    old = hf_cache.incomplete_path(cache, REPO, "a" * 64)
    old.parent.mkdir(parents=True)
    old.write_bytes(b"half of last month's file")
    remember(REPO, FILE, "main", old, 10_000, "a" * 64)

    path = _get(cache, hub.hub_url)
    assert path.read_bytes() == source
    assert not old.exists() and pending(REPO, FILE) is None


def test_discard_leaves_a_part_that_another_program_is_writing(cache: Path) -> None:
    part = hf_cache.incomplete_path(cache, REPO, "b" * 64)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"being written")
    remember(REPO, FILE, "main", part, 10_000, "b" * 64)
    lock = hf_cache.lock_path(cache, REPO, "b" * 64)
    lock.parent.mkdir(parents=True)

    with FileLock(lock):
        assert discard(REPO, FILE) is False
        assert part.exists()
    assert discard(REPO, FILE) is True
    assert not part.exists() and pending(REPO, FILE) is None
