"""`folio ask` end to end with the demo model, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import settings
from tests.support import run_folio

pytestmark = pytest.mark.model

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
    "cache",
    "citations",
}


@pytest.fixture(autouse=True)
def short_answers(folio_home: Path) -> None:
    """The demo model sometimes rambles; cap answers so the suite stays fast."""
    settings.save(settings.Settings(max_answer_tokens=200))


def test_ask_answers_from_the_file_with_stats(tmp_path: Path, folio_home: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Invoice 2026-117. The invoice total is 1,250 euros, due on 3 March 2026. "
        "The supplier is Acme GmbH.\n",
        encoding="utf-8",
    )
    out = run_folio(
        "ask",
        str(notes),
        "-q",
        "What is the invoice total?",
        "-q",
        "Who is the supplier?",
        "--stats",
        "--export",
        str(tmp_path / "answers.md"),
        home=folio_home,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip(), "the answers go to stdout"
    stats = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert len(stats) == 2
    for record in stats:
        assert set(record) == STATS_KEYS
        assert record["decode_tokens"] >= 1 and record["prompt_tokens"] > 30
        assert record["citations"]["total"] == len(record["citations"]["checks"])
    # Same conversation: the second question re-reads only the new turn.
    assert stats[1]["cached_tokens"] >= stats[0]["prompt_tokens"]
    assert "demo model" in out.stderr
    # --export: both questions with their answers, as Markdown, and where it went.
    exported = (tmp_path / "answers.md").read_text(encoding="utf-8")
    assert exported.startswith("# Folio conversation\n\n*Answered by Folio · ")
    assert "documents: notes.txt*" in exported
    assert "## What is the invoice total?\n\n" in exported
    assert "## Who is the supplier?\n\n" in exported
    first_answer = out.stdout.strip().splitlines()[0]
    assert f"## What is the invoice total?\n\n{first_answer}" in exported
    assert f"Exported to {tmp_path / 'answers.md'}" in out.stderr


def test_chat_reads_questions_until_eof(tmp_path: Path, folio_home: Path):
    out = run_folio("chat", home=folio_home, stdin="Say hello.\n/think off\n/new\n/quit\n")
    assert out.returncode == 0, out.stderr
    assert "folio> " in out.stdout
    assert "(thinking off)" in out.stdout and "(new conversation)" in out.stdout


def test_smoke_test_answers_one_question_offscreen(folio_home: Path):
    out = run_folio("--smoke-test", home=folio_home)
    assert out.returncode == 0, out.stderr
    assert "smoke test ok" in out.stdout
