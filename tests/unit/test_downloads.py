"""Downloads against a local stand-in for the Hugging Face hub (`tests.fixtures.hub_server`)."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from desktop_app.core.downloads import (
    DownloadCancelled,
    DownloadError,
    DownloadPaused,
    DownloadProgress,
    download,
    partial_path,
)
from tests.fixtures import hub_server
from tests.fixtures.hub_server import CHUNK, FILE, REPO, HubState

# The shared hub fixtures, bound here so pytest finds them for this module.
hub = hub_server.hub
source = hub_server.source


def _get(dest: Path, endpoint: str, **kwargs: object) -> Path:
    # Passing the endpoint is the only way to redirect huggingface_hub after
    # import: it builds its URL template from HF_ENDPOINT once, at import.
    return download(REPO, FILE, dest, chunk_size=CHUNK, endpoint=endpoint, **kwargs)  # type: ignore[arg-type]


def test_full_download_is_verified_and_equal(hub: HubState, source: bytes, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []

    path = _get(tmp_path, hub.hub_url, progress=seen.append)

    assert path == tmp_path / FILE
    assert path.read_bytes() == source
    assert not partial_path(tmp_path, FILE).exists()
    assert hub.ranges == [None]
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and dones[-1] == len(source)
    assert {p.total for p in seen} == {len(source)}


def test_already_downloaded_file_is_not_fetched_again(hub: HubState, tmp_path: Path) -> None:
    _get(tmp_path, hub.hub_url)
    _get(tmp_path, hub.hub_url)
    assert len(hub.ranges) == 1


def test_lost_connection_keeps_part_and_next_call_resumes_with_range(
    hub: HubState, source: bytes, tmp_path: Path
) -> None:
    cut = len(source) // 2
    hub.cut_after = cut

    with pytest.raises(DownloadError, match="connection"):
        _get(tmp_path, hub.hub_url)
    # httpx may drop a last partial chunk; the part's size is the resume point.
    kept = partial_path(tmp_path, FILE).stat().st_size
    assert cut - CHUNK < kept <= cut

    path = _get(tmp_path, hub.hub_url)
    assert hub.ranges == [None, f"bytes={kept}-"]
    assert hub.served == [cut, len(source) - kept]
    assert path.read_bytes() == source


def test_pause_keeps_part_and_a_new_call_resumes(
    hub: HubState, source: bytes, tmp_path: Path
) -> None:
    pause = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done >= len(source) // 3:
            pause.set()

    with pytest.raises(DownloadPaused):
        _get(tmp_path, hub.hub_url, pause=pause, progress=on_progress)
    part = partial_path(tmp_path, FILE)
    kept = part.stat().st_size
    assert 0 < kept < len(source)

    # A new call with fresh events is what a restarted app does.
    seen: list[DownloadProgress] = []
    path = _get(tmp_path, hub.hub_url, pause=threading.Event(), progress=seen.append)
    assert hub.ranges[-1] == f"bytes={kept}-"
    assert path.read_bytes() == source
    assert seen[0].done > kept and seen[-1].done == len(source)


def test_server_ignoring_range_restarts_from_zero(
    hub: HubState, source: bytes, tmp_path: Path
) -> None:
    partial_path(tmp_path, FILE).write_bytes(b"stale bytes that are not the file")
    hub.ignore_range = True

    path = _get(tmp_path, hub.hub_url)

    assert hub.ranges == ["bytes=33-"]
    assert path.read_bytes() == source


def test_cancel_deletes_part(hub: HubState, source: bytes, tmp_path: Path) -> None:
    cancel = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done >= len(source) // 2:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        _get(tmp_path, hub.hub_url, cancel=cancel, progress=on_progress)
    assert not any(tmp_path.glob(f"{FILE}*"))


def test_cancel_of_a_paused_download_discards_it_offline(tmp_path: Path) -> None:
    partial_path(tmp_path, FILE).write_bytes(b"half")
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(DownloadCancelled):
        _get(tmp_path, "http://127.0.0.1:9", cancel=cancel)  # nothing may be contacted
    assert not any(tmp_path.glob(f"{FILE}*"))


def test_corrupt_bytes_fail_verification_and_leave_nothing(hub: HubState, tmp_path: Path) -> None:
    hub.sha256 = hashlib.sha256(b"some other file").hexdigest()

    with pytest.raises(DownloadError, match="corrupt"):
        _get(tmp_path, hub.hub_url)
    assert not any(tmp_path.glob(f"{FILE}*"))


def test_missing_file_says_404(hub: HubState, tmp_path: Path) -> None:
    hub.missing = True
    with pytest.raises(DownloadError, match="answered 404 .*does not exist"):
        _get(tmp_path, hub.hub_url)


def test_no_server_says_no_network(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    with pytest.raises(DownloadError, match="No network connection: cannot reach"):
        _get(tmp_path, f"http://127.0.0.1:{port}")


def test_too_little_disk_space_fails_before_fetching(
    hub: HubState, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _path: SimpleNamespace(total=1, used=0, free=1)
    )

    with pytest.raises(DownloadError, match=r"Not enough disk space: needs 0\.3 GiB, 0\.0 GiB"):
        _get(tmp_path, hub.hub_url)
    assert hub.ranges == []
