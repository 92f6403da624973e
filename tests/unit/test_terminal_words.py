"""The terminal's first word and its pipe: a mistyped command is said, not opened as a file;
a reader that closes the pipe early (`| head`) ends the output quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, run_folio

COMMANDS = (
    "Commands: info, ask, chat, extract, models, system, serve, summarize (folio COMMAND -h)."
)


def test_a_mistyped_command_is_named_with_the_closest_one(folio_home: Path) -> None:
    out = run_folio("extrct", "a.pdf", home=folio_home)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == (
        f"folio: “extrct” is not a command, nor a file. Did you mean “extract”? {COMMANDS}\n"
    )


def test_a_word_like_nothing_lists_the_commands(folio_home: Path) -> None:
    out = run_folio("quarterly", home=folio_home)
    assert out.returncode == 2
    assert out.stderr == f"folio: “quarterly” is not a command, nor a file. {COMMANDS}\n"


def test_a_file_without_a_suffix_is_still_a_file(tmp_path: Path) -> None:
    from desktop_app.app import _not_a_command

    notes = tmp_path / "notes"
    notes.write_text("a file named like a word")
    assert _not_a_command(str(notes)) == ""
    assert _not_a_command("lease.pdf") == ""  # a document to open (or say is missing)


def test_a_pipe_closed_early_ends_quietly(tmp_path: Path, folio_home: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("The rent is due on the first day of the month.\n" * 200_000)
    env = dict(os.environ, FOLIO_HOME=str(folio_home))
    command = f"{sys.executable} -m desktop_app extract {big} | head -1"
    run = subprocess.run(
        ["bash", "-c", f"{command}; echo \"status ${{PIPESTATUS[0]}}\" >&2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.stdout == "The rent is due on the first day of the month.\n"
    assert run.stderr == "status 141\n"  # no "unexpected internal error", no traceback
