"""Documents are parsed in a child process: same result, limits enforced, stoppable."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from desktop_app import app
from desktop_app.core import documents
from desktop_app.core.documents import isolated
from desktop_app.errors import DocumentError, PasswordRequired
from tests.fixtures.pdf_factory import encrypt, make_long_pdf, make_pdf

LIMIT = 200 * 1024**2


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_bundle_flag_is_the_childs():
    assert app.EXTRACT_FLAG == isolated.CHILD_FLAG


def test_the_child_gives_what_an_in_process_load_gives(tmp_path: Path, folio_home: Path):
    path = tmp_path / "contract.pdf"
    path.write_bytes(make_pdf(["The fee is 1,250 euros.", None, "Either party may terminate."]))
    seen: list[tuple[int, int]] = []
    child = isolated.extract(
        path, None, LIMIT, sha256=_sha(path), progress=lambda d, t: seen.append((d, t))
    )
    assert child == documents.load(path, use_cache=False)
    assert seen[-1] == (3, 3)


def test_errors_and_passwords_come_back_as_themselves(tmp_path: Path, folio_home: Path):
    photo = tmp_path / "photo.pdf"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(DocumentError, match="photo.pdf is a PNG image"):
        isolated.extract(photo, None, LIMIT, sha256=_sha(photo))
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(encrypt(make_pdf(["Top secret."]), "s3cret", "AES-256"))
    with pytest.raises(PasswordRequired) as info:
        isolated.extract(secret, "wrong", LIMIT, sha256=_sha(secret))
    assert info.value.wrong_password
    assert (
        "Top secret."
        in isolated.extract(secret, "s3cret", LIMIT, sha256=_sha(secret)).units[0].text
    )


def test_cancel_stops_the_child_within_a_second(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(3000))
    cancel = threading.Event()
    started: list[float] = []

    def progress(done: int, total: int) -> None:
        if not started:
            started.append(time.monotonic())
            threading.Timer(0.2, cancel.set).start()

    t0 = time.monotonic()
    with pytest.raises(isolated.Cancelled):
        isolated.extract(path, None, LIMIT, sha256=_sha(path), progress=progress, cancel=cancel)
    assert started and time.monotonic() - started[0] < 1.5, time.monotonic() - t0


def test_the_time_limit_ends_a_slow_parse(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(3000))
    with pytest.raises(DocumentError, match="took longer than"):
        isolated.extract(path, None, LIMIT, sha256=_sha(path), time_limit_s=0.5)


def test_the_memory_limit_ends_a_runaway_parse(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(300))
    with pytest.raises(DocumentError, match="too much memory"):
        isolated.extract(path, None, LIMIT, sha256=_sha(path), memory_limit_bytes=64 * 1024**2)
