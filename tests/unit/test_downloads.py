"""Downloads against a local stand-in for the Hugging Face hub.

Two servers on 127.0.0.1, like the real thing: the "hub" answers HEAD/GET on
`/{repo}/resolve/{rev}/{file}` with a 302 carrying the LFS metadata headers
(`X-Repo-Commit`, `X-Linked-Etag` = sha256, `X-Linked-Size`) and a Location on
another origin, the "CDN", which serves the bytes with Range support. That
other origin matters: huggingface_hub stops following redirects at a foreign
host and takes the metadata from the 302 itself, as with the real hub's CDN.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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

REPO = "folio-test/tiny"
FILE = "tiny.gguf"
CHUNK = 64 << 10


@dataclass
class _State:
    data: bytes
    sha256: str
    hub_url: str = ""
    cdn_url: str = ""
    missing: bool = False
    ignore_range: bool = False
    cut_after: int | None = None  # the first GET closes the connection after this many bytes
    ranges: list[str | None] = field(default_factory=list)  # Range header of each GET
    served: list[int] = field(default_factory=list)  # body bytes sent by each GET


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self._resolve()

    def do_GET(self) -> None:
        if self.path == "/blob":
            self._blob()
        else:
            self._resolve()

    def _resolve(self) -> None:
        if self.path != f"/{REPO}/resolve/main/{FILE}" or self.state.missing:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
        self.send_header("ETag", '"git-blob-sha1-of-the-lfs-pointer"')
        self.send_header("X-Linked-Etag", f'"{self.state.sha256}"')
        self.send_header("X-Linked-Size", str(len(self.state.data)))
        self.send_header("Location", f"{self.state.cdn_url}/blob")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _blob(self) -> None:
        data, state = self.state.data, self.state
        range_header = self.headers.get("Range")
        state.ranges.append(range_header)
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        start = int(match[1]) if match and not state.ignore_range else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if state.cut_after is not None and len(state.served) == 0:
            body = body[: state.cut_after]
            self.close_connection = True
        self.wfile.write(body)
        self.wfile.flush()
        state.served.append(len(body))


@contextmanager
def _serve(state: _State) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def source(tiny_qwen35_gguf: Path) -> bytes:
    return tiny_qwen35_gguf.read_bytes()


@pytest.fixture
def hub(source: bytes) -> Iterator[_State]:
    state = _State(data=source, sha256=hashlib.sha256(source).hexdigest())
    with _serve(state) as cdn_url, _serve(state) as hub_url:
        state.cdn_url, state.hub_url = cdn_url, hub_url
        yield state


def _get(dest: Path, endpoint: str, **kwargs: object) -> Path:
    # Passing the endpoint is the only way to redirect huggingface_hub after
    # import: it builds its URL template from HF_ENDPOINT once, at import.
    return download(REPO, FILE, dest, chunk_size=CHUNK, endpoint=endpoint, **kwargs)  # type: ignore[arg-type]


def test_full_download_is_verified_and_equal(hub: _State, source: bytes, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []

    path = _get(tmp_path, hub.hub_url, progress=seen.append)

    assert path == tmp_path / FILE
    assert path.read_bytes() == source
    assert not partial_path(tmp_path, FILE).exists()
    assert hub.ranges == [None]
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and dones[-1] == len(source)
    assert {p.total for p in seen} == {len(source)}


def test_already_downloaded_file_is_not_fetched_again(hub: _State, tmp_path: Path) -> None:
    _get(tmp_path, hub.hub_url)
    _get(tmp_path, hub.hub_url)
    assert len(hub.ranges) == 1


def test_lost_connection_keeps_part_and_next_call_resumes_with_range(
    hub: _State, source: bytes, tmp_path: Path
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
    hub: _State, source: bytes, tmp_path: Path
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
    hub: _State, source: bytes, tmp_path: Path
) -> None:
    partial_path(tmp_path, FILE).write_bytes(b"stale bytes that are not the file")
    hub.ignore_range = True

    path = _get(tmp_path, hub.hub_url)

    assert hub.ranges == ["bytes=33-"]
    assert path.read_bytes() == source


def test_cancel_deletes_part(hub: _State, source: bytes, tmp_path: Path) -> None:
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


def test_corrupt_bytes_fail_verification_and_leave_nothing(hub: _State, tmp_path: Path) -> None:
    hub.sha256 = hashlib.sha256(b"some other file").hexdigest()

    with pytest.raises(DownloadError, match="corrupt"):
        _get(tmp_path, hub.hub_url)
    assert not any(tmp_path.glob(f"{FILE}*"))


def test_missing_file_says_404(hub: _State, tmp_path: Path) -> None:
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
    hub: _State, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _path: SimpleNamespace(total=1, used=0, free=1)
    )

    with pytest.raises(DownloadError, match=r"Not enough disk space: needs 0\.3 GiB, 0\.0 GiB"):
        _get(tmp_path, hub.hub_url)
    assert hub.ranges == []
