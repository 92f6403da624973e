"""A new user's first minute in the real app on a real X server (Xvfb), driven through X by
xdotool and checked on the screenshots by OCR: what a person sees, not what a widget holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gui.test_xvfb_source_pane import needs_x


@pytest.fixture(scope="module")
def first_minute(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("first-start")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m",
         "tests.fixtures.xvfb_first_start", str(out)],
        env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads((out / "result.json").read_text())


@needs_x
def test_first_start_offers_models_and_says_the_demo_model_is_in_use(first_minute) -> None:
    seen = first_minute["first_start"]
    assert "Download a model (Qwen3.5, Q4_K_M)" in seen
    assert "On this computer" in seen
    # OCR reads the bold name now and then as "SmolILM2": the rest of the row is exact.
    assert "(demo model)" in seen and "98 MB - ships with Folio" in seen


@needs_x
def test_the_empty_chat_says_what_to_do_and_the_picker_names_the_model(first_minute) -> None:
    seen = first_minute["chat"]
    assert "Ask about your documents" in seen
    assert "Drop a PDF, DOCX, text file or scan here, or choose Open..." in seen
    # The picker above the chat and the status bar both name the model in use.
    assert seen.count("(demo model)") == 2


@needs_x
def test_ctrl_o_right_after_the_models_dialog_opens_the_file_dialog(first_minute) -> None:
    assert "File name" in first_minute["open_dialog"]


@needs_x
def test_the_card_is_on_screen_within_half_a_second(first_minute) -> None:
    assert first_minute["panel_after_s"] <= 0.5
    assert "supply.pdf" in first_minute["panel"]


@needs_x
def test_quit_ends_the_process_within_a_second(first_minute) -> None:
    assert first_minute["exit_code"] == 0
    assert first_minute["quit_s"] <= 1.0
