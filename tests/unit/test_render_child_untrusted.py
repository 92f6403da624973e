"""A render child that lies is refused and replaced; the app never uses what it sent.

A fake child (a few lines of Python) answers each request with a header and pixels chosen by
the test, as a PDFium taken over by a hostile PDF could. Before these checks a header claiming
64x64 with 16 bytes of pixels made the app copy 16 KB of its own memory into the image,
10000x10000 crashed it (SIGSEGV in QImage), a 3 GB header line grew it to 6.3 GB, and
`bytes` = 10^12 raised MemoryError and left the child running.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from desktop_app.core.documents import child_answers, isolated, render_service, rendered_page
from desktop_app.core.documents.render_service import PageRenderer
from desktop_app.errors import DocumentError, PasswordRequired

GOOD = {"width": 2, "height": 2, "stride": 8, "scale": 1.0, "page_count": 3,
        "highlights": [[0, 0, 1, 1]], "has_text": True, "render_ms": 1.5, "bytes": 16}  # fmt: skip

#: The fake child: for each request line, the next answer from the script (header bytes,
#: then pixel bytes); answers run out → it exits, as a crashed child would.
CHILD = """
import json, sys
answers = json.load(open(sys.argv[1]))
for line, (head, pixels) in zip(sys.stdin.buffer, answers):
    sys.stdout.buffer.write(head.encode("latin-1") + bytes.fromhex(pixels))
    sys.stdout.buffer.flush()
"""


def _answer(header: dict | str, pixels: bytes = b"") -> list[str]:
    head = header if isinstance(header, str) else json.dumps(header) + "\n"
    return [head, pixels.hex()]


@pytest.fixture
def fake_child(tmp_path: Path, monkeypatch):
    """Make each new render child a fake that gives `answers` in turn; returns the setter
    and the list of children started."""
    script, started = tmp_path / "answers.json", []

    def command(flag: str, module: str) -> list[str]:
        started.append(script.read_text())
        return [sys.executable, "-c", CHILD, str(script)]

    monkeypatch.setattr(isolated, "child_command", command)

    def give(*answers: list[str]) -> list[str]:
        script.write_text(json.dumps(list(answers)))
        return started

    return give


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "lease.pdf"
    path.write_bytes(b"%PDF-1.7\n")  # never parsed: the fake child answers
    return path


def test_a_true_answer_is_the_page_it_describes(fake_child, pdf: Path) -> None:
    fake_child(_answer(GOOD, bytes(range(16))))
    renderer = PageRenderer()
    try:
        page, cached = renderer.render(pdf, 1, 1.0, "rent")
    finally:
        renderer.close()
    assert cached is False
    assert page == rendered_page.RenderedPage(
        pixels=bytes(range(16)), width=2, height=2, stride=8, scale=1.0, page_count=3,
        highlights=((0.0, 0.0, 1.0, 1.0),), has_text=True, render_ms=1.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lie", "pixels"),
    [
        ({**GOOD, "width": 64, "height": 64, "stride": 256, "bytes": 16}, b"x" * 16),
        ({**GOOD, "width": 10000, "height": 10000, "stride": 40000, "bytes": 16}, b"x" * 16),
        ({**GOOD, "bytes": 10**12}, b"x" * 16),
        ({**GOOD, "stride": 4}, b"x" * 16),  # rows narrower than the width
        ({**GOOD, "width": "2"}, b"x" * 16),
        ({**GOOD, "highlights": [[0, 0, 1]]}, b"x" * 16),
        ({**GOOD, "highlights": [[0, 0, 1, 1e308]]}, b"x" * 16),
        ({**GOOD, "scale": float("nan")}, b"x" * 16),
        ({**GOOD, "has_text": "yes"}, b"x" * 16),
        ({k: v for k, v in GOOD.items() if k != "page_count"}, b"x" * 16),
        ({**GOOD, "pixels_at": 0}, b"x" * 16),  # a field the app does not know
        ({"error": ["not", "a", "string"]}, b""),
        ([1, 2, 3], b""),
    ],
    ids=[
        "64x64-16-bytes",
        "10000x10000",
        "terabyte",
        "narrow-stride",
        "width-text",
        "box-3",
        "box-huge",
        "nan-scale",
        "has-text-text",
        "missing-field",
        "extra-field",
        "error-not-text",
        "not-an-object",
    ],  # fmt: skip
)
def test_a_lying_child_is_refused_stopped_and_replaced(fake_child, pdf, lie, pixels) -> None:
    started = fake_child(_answer(lie, pixels))
    renderer = PageRenderer()
    try:
        with pytest.raises(DocumentError) as refused:
            renderer.render(pdf, 1, 1.0, None)
        assert str(refused.value).startswith(
            "Showing a page of lease.pdf failed: the renderer sent a malformed answer ("
        )
        assert renderer._child is None, "the lying child was stopped"
        fake_child(_answer(GOOD, bytes(16)))
        assert renderer.render(pdf, 2, 1.0, None)[0].width == 2  # a new child answers
        assert len(started) == 2
    finally:
        renderer.close()


def test_an_endless_header_line_is_not_read_into_memory(fake_child, pdf) -> None:
    fake_child(["x" * (8 * 1024 * 1024), ""])  # 8 MB and no newline
    renderer = PageRenderer()
    began = time.monotonic()
    try:
        with pytest.raises(DocumentError, match=r"malformed answer \(header line too long"):
            renderer.render(pdf, 1, 1.0, None)
    finally:
        renderer.close()
    assert time.monotonic() - began < 5


def test_the_child_s_errors_come_back_as_the_app_s_own(fake_child, pdf) -> None:
    locked = "lease.pdf is encrypted: its password is needed to show it."
    missing = "Page 9 of lease.pdf does not exist." + " and more" * 1000
    fake_child(
        _answer({"error": {"code": "password", "message": locked}}),
        _answer({"error": {"code": "document", "message": missing}}),
    )
    renderer = PageRenderer()
    try:
        with pytest.raises(PasswordRequired) as locked:
            renderer.render(pdf, 1, 1.0, None)
        assert not locked.value.wrong_password
        with pytest.raises(DocumentError) as missing:
            renderer.render(pdf, 9, 1.0, None)
        assert str(missing.value).startswith("Page 9 of lease.pdf does not exist. and more")
        assert len(str(missing.value)) == child_answers.MAX_MESSAGE_CHARS
        assert renderer._child is not None  # an honest error keeps the child
    finally:
        renderer.close()


def test_render_service_does_not_import_pdfium() -> None:
    """The app checks and shows pages without loading PDFium into its own process."""
    import subprocess

    code = ("import sys; import desktop_app.core.documents.render_service; "
            "print('pypdfium2' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert render_service.RenderedPage is rendered_page.RenderedPage
