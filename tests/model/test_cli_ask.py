"""`folio ask` end to end with the demo model, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import settings

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
STATS_KEYS = {
    "ttft_s",
    "prompt_tokens",
    "cached_tokens",
    "prefill_tokens",
    "prefill_tokens_per_s",
    "decode_tokens",
    "decode_tokens_per_s",
    "n_threads",
    "placement",
    "finish_reason",
}


@pytest.fixture(autouse=True)
def short_answers(folio_home: Path) -> None:
    """The demo model sometimes rambles; cap answers so the suite stays fast."""
    settings.save(settings.Settings(max_answer_tokens=200))


def folio(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FOLIO_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ask_answers_from_the_file_with_stats(tmp_path: Path, folio_home: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Invoice 2026-117. The invoice total is 1,250 euros, due on 3 March 2026. "
        "The supplier is Acme GmbH.\n",
        encoding="utf-8",
    )
    out = folio(
        "ask",
        str(notes),
        "-q",
        "What is the invoice total?",
        "-q",
        "Who is the supplier?",
        "--stats",
        home=folio_home,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip(), "the answers go to stdout"
    stats = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert len(stats) == 2
    for record in stats:
        assert set(record) == STATS_KEYS
        assert record["decode_tokens"] >= 1 and record["prompt_tokens"] > 30
    # Same conversation: the second question re-reads only the new turn.
    assert stats[1]["cached_tokens"] >= stats[0]["prompt_tokens"]
    assert "demo model" in out.stderr


def test_chat_reads_questions_until_eof(tmp_path: Path, folio_home: Path):
    env = dict(os.environ, FOLIO_HOME=str(folio_home))
    out = subprocess.run(
        [sys.executable, "-m", "desktop_app", "chat"],
        cwd=ROOT,
        env=env,
        input="Say hello.\n/think off\n/new\n/quit\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "folio> " in out.stdout
    assert "(thinking off)" in out.stdout and "(new conversation)" in out.stdout
