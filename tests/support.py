"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nothing listens on (once the probe socket is closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_folio(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m desktop_app ARGS` as a user would, with its own FOLIO_HOME."""
    env = dict(os.environ, FOLIO_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, input=stdin, timeout=300,
    )  # fmt: skip
