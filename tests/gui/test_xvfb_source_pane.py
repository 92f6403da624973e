"""End to end on a real X server (Xvfb): the real window, a mouse click on a citation sent
through X by xdotool, and the screenshot of the source pane that docs/screenshot.png is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from desktop_app.core.documents import ocr

TOOLS = ("xvfb-run", "xdotool", "import")


needs_x = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS), reason="needs xvfb-run, xdotool and imagemagick"
)


def _run(tmp_path: Path, *options: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m",
         "tests.fixtures.xvfb_citation", str(tmp_path), *options],
        env={**env, "QT_QPA_PLATFORM": "xcb"}, capture_output=True, text=True, timeout=200,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    result = json.loads((tmp_path / "result.json").read_text())
    assert run.returncode == 0, (result, run.stderr[-2000:])
    return result


def _yellow_share(shot: QImage, left: int, top: int, box: list) -> float:
    """How much of a highlight box on the screenshot is the highlight's yellow."""
    x, y, w, h = box
    inside = [shot.pixelColor(int(left + x + i), int(top + y + j))
              for i in range(1, int(w) - 1) for j in range(1, int(h) - 1)]  # fmt: skip
    yellow = [c for c in inside if c.red() > 200 and c.green() > 150 and c.blue() < 170]
    return len(yellow) / max(len(inside), 1)


@needs_x
def test_clicking_a_citation_in_the_real_window_shows_the_page_highlighted(tmp_path: Path):
    result = _run(tmp_path)
    assert result["pane_visible"] and result["page"] == 2 and result["highlights"] == 1
    assert result["title"] == "lease.pdf — Page 2"
    assert result["verdict"] == (
        "✓ Quote found on the cited page: “1,200 euros per month, payable in advance”"
    )
    assert result["summary"].endswith("1 of 3 citations found on another page or section")
    # The screenshot shows the highlight where the pane says it is: yellow under the words.
    shot = QImage(str(tmp_path / "screenshot.png"))
    assert (shot.width(), shot.height()) == (1280, 800)
    left, top, width, _ = result["canvas"]
    (x, y, w, h) = result["boxes"][0]
    # The words' background is yellow (the glyphs are the rest).
    assert _yellow_share(shot, left, top, result["boxes"][0]) > 1 / 3
    margin = shot.pixelColor(int(left + width - 8), int(top + y + h / 2))  # the page's margin
    assert (margin.red(), margin.green(), margin.blue()) == (255, 255, 255)


@needs_x
@pytest.mark.skipif(bool(ocr.engine_info().problem), reason="no OCR engine")
def test_a_citation_on_a_scanned_page_is_highlighted_on_the_scan(tmp_path: Path):
    """The signed copy is a scan: the quote is found in the OCR text and the words it spans
    are yellow on the scanned page, in the screenshot of the real window."""
    result = _run(tmp_path, "--scan")
    assert result["pane_visible"] and result["page"] == 2
    assert result["title"] == "lease.pdf — Page 2 · OCR"
    assert result["verdict"] == (
        "✓ Quote found on the cited page, highlighted on the scan (read by OCR): "
        "“1,200 euros per month, payable in advance”"
    )
    # One box a line, like a text page's: the quote is on one line of the scan.
    assert result["highlights"] == 1
    shot = QImage(str(tmp_path / "screenshot.png"))
    left, top = result["canvas"][:2]
    shares = [_yellow_share(shot, left, top, box) for box in result["boxes"]]
    assert min(shares) > 1 / 4, shares  # the box hugs the glyphs: more ink inside it
