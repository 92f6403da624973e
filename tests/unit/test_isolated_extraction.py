"""Documents are parsed in a child process: same result, limits enforced, stoppable."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from desktop_app import app
from desktop_app.core.documents import isolated
from desktop_app.errors import DocumentError, PasswordRequired
from tests.fixtures.parse import parse_in_this_process
from tests.fixtures.pdf_factory import encrypt, make_long_pdf, make_pdf


def test_the_bundle_flag_is_the_childs():
    assert app.EXTRACT_FLAG == isolated.CHILD_FLAG


@pytest.mark.parses_in_process
def test_the_child_gives_what_a_parse_in_this_process_gives(tmp_path: Path, folio_home: Path):
    path = tmp_path / "contract.pdf"
    path.write_bytes(make_pdf(["The fee is 1,250 euros.", "See annex.", "Either may end it."]))
    seen: list[tuple[int, int, str]] = []
    child = isolated.extract(path.read_bytes(), path.name, None, progress=lambda *p: seen.append(p))
    assert child.units == parse_in_this_process(path).units and child.type == "pdf"
    assert seen[-1] == (3, 3, "text")


def test_errors_and_passwords_come_back_as_themselves(tmp_path: Path, folio_home: Path):
    photo = tmp_path / "photo.pdf"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(DocumentError, match="photo.pdf is a GIF image"):
        isolated.extract(b"GIF89a" + b"\x00" * 50, "photo.pdf", None)
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(encrypt(make_pdf(["Top secret."]), "s3cret", "AES-256"))
    with pytest.raises(PasswordRequired) as info:
        isolated.extract(secret.read_bytes(), secret.name, "wrong")
    assert info.value.wrong_password
    opened = isolated.extract(secret.read_bytes(), secret.name, "s3cret")
    assert "Top secret." in opened.units[0].text and not opened.cacheable


def test_cancel_stops_the_child_within_a_second(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(3000))
    cancel = threading.Event()
    started: list[float] = []

    def progress(done: int, total: int, stage: str) -> None:
        if not started:
            started.append(time.monotonic())
            threading.Timer(0.2, cancel.set).start()

    t0 = time.monotonic()
    with pytest.raises(isolated.Cancelled):
        isolated.extract(path.read_bytes(), path.name, None, progress=progress, cancel=cancel)
    assert started and time.monotonic() - started[0] < 1.5, time.monotonic() - t0


def test_the_time_limit_ends_a_slow_parse(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(3000))
    with pytest.raises(DocumentError, match="took too long"):
        isolated.extract(path.read_bytes(), path.name, None, time_limit_s=0.5)


def test_the_memory_limit_ends_a_runaway_parse(tmp_path: Path, folio_home: Path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_long_pdf(300))
    with pytest.raises(DocumentError, match="too much memory"):
        isolated.extract(path.read_bytes(), path.name, None, memory_limit_bytes=64 * 1024**2)
