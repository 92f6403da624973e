"""`folio ask --backend URL`: a remote OpenAI-compatible server answers instead of the
model in Folio. The server is llama-cpp-python's own (`llama_cpp.server`) on loopback
with the demo model, holding a 4,096-token context that it does not report."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support import free_port, run_folio

pytestmark = pytest.mark.model

KEY = "team-key"
#: llama_cpp.server needs Folio's ggml backends loaded first (they are loaded on demand).
SERVER = ("from desktop_app.core.hardware.backends import ensure_loaded; ensure_loaded(); "
          "import runpy, sys; sys.argv[0] = 'llama_cpp.server'; "
          "runpy.run_module('llama_cpp.server', run_name='__main__')")  # fmt: skip
NOTES = ("Lease summary\nThe lease starts on 1 March 2026.\n"
         "The rent is 1,200 euros per month.\n"
         "Either party may end it with ninety days' written notice.\n")  # fmt: skip


@pytest.fixture(scope="module")
def backend(tmp_path_factory, smollm2_gguf: Path) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-c", SERVER, "--model", str(smollm2_gguf), "--port", str(port),
            "--n_ctx", "4096", "--api_key", KEY]  # fmt: skip
    log = tmp_path_factory.mktemp("backend") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/models")
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    settings = {"sampling": {"temperature": 0}, "max_answer_tokens": 256}
    (tmp_path / "config" / "settings.json").write_text(json.dumps(settings))
    (tmp_path / "notes.txt").write_text(NOTES)
    return tmp_path


def _ask(home: Path, *args: str, question: str = "What is the rent per month?"):
    return run_folio("ask", str(home / "notes.txt"), "-q", question, *args, home=home)


def test_a_remote_server_answers_about_the_document(backend, home: Path) -> None:
    result = _ask(home, "--backend", backend, "--backend-key", KEY, "--stats")
    assert result.returncode == 0, result.stderr
    assert "1,200" in result.stdout  # greedy: the demo model reads it off the document
    header = result.stderr.splitlines()[0]
    assert header.startswith("SmolLM2-135M-Instruct.Q4_1.gguf · remote (127.0.0.1:")
    assert "8,192-token context" in header  # not reported by this server: the default
    assert "whole document in view" in result.stderr
    assert "engine server reads at most 8,192" in result.stderr
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert stats["finish_reason"] == "stop" and stats["n_threads"] == 0
    # Counted by the server's tokenizer (/extras/tokenize/count): this server sends no
    # usage in streams.
    assert stats["prompt_tokens"] > 100 and stats["decode_tokens"] > 0
    with sqlite3.connect(home / "data" / "folio.sqlite3") as db:  # saved like any chat
        saved = db.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchall()
    assert saved == [(result.stdout.strip(),)]


def test_a_missing_key_and_an_unreachable_server_are_one_clear_line(backend, home) -> None:
    refused = _ask(home, "--backend", backend)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"folio: The engine server at {backend[7:-3]} refused the API key (401: Invalid API "
        "key). Check --backend-key, or the key in Settings → Model."
    )
    gone = _ask(home, "--backend", f"http://127.0.0.1:{free_port()}/v1")
    assert gone.returncode == 2
    assert gone.stderr.strip().startswith("folio: Cannot reach the engine server at http://")
    assert "Traceback" not in refused.stderr + gone.stderr


def test_a_document_longer_than_the_servers_context_says_so(backend, home: Path) -> None:
    words = "lease rent party notice clause payment term landlord tenant deposit".split()
    (home / "notes.txt").write_text(" ".join(words[i % 10] for i in range(9000)))
    # The user claims a 20,000-token server: the plan sends the whole document, which the
    # server (4,096) cannot read. It fails without saying why; Folio says what to do.
    result = _ask(home, "--backend", backend, "--backend-key", KEY, "--ctx", "20000")
    assert "ended the answer without finishing it" in result.stderr
    assert "Folio assumed 20,000 tokens" in result.stderr
    # Told the real context, Folio answers from passages instead.
    result = _ask(home, "--backend", backend, "--backend-key", KEY, "--ctx", "4096")
    assert result.returncode == 0, result.stderr
    assert "answering from the most relevant passages" in result.stderr
    assert "engine server reads at most 4,096" in result.stderr
    assert result.stdout.strip()


def test_folio_serve_can_be_the_remote_engine(tmp_path, smollm2_gguf: Path, home) -> None:
    """Another Folio (`folio serve` on a workstation) reports usage in its stream."""
    port = free_port()
    env = {**os.environ, "FOLIO_HOME": str(tmp_path / "server-home")}
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", "serve", "--model",
                             str(smollm2_gguf), "--port", str(port), "--ctx", "4096"],
                            env=env, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        result = _ask(home, "--backend", f"http://127.0.0.1:{port}", "--stats")
    finally:
        proc.terminate()
        proc.wait(10)
    assert result.returncode == 0, result.stderr
    assert "1,200" in result.stdout
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert stats["finish_reason"] == "stop" and stats["prompt_tokens"] > 100
