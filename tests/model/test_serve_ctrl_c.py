"""Ctrl+C to `folio serve` while a client streams an answer: the server ends within the
issue's second and the client's stream ends properly, with finish_reason "cancelled".

uvicorn alone waits for every open response to finish before it stops: a 2,000-token answer
on a CPU kept `folio serve` running for minutes after Ctrl+C.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from desktop_app import settings
from tests.fixtures.folio_process import FolioProcess
from tests.model.test_cli_interrupts import EXIT_LIMIT_S
from tests.support import ROOT, free_port

pytestmark = pytest.mark.model


def test_ctrl_c_mid_answer_ends_the_server_and_the_stream(folio_home: Path, smollm2_gguf: Path):
    settings.save(settings.Settings())
    port = free_port()
    run = FolioProcess(ROOT, folio_home, "serve", "--model", str(smollm2_gguf),
                       "--port", str(port), "--ctx", "4096")  # fmt: skip
    run.wait_for("Folio API at", timeout_s=120)
    body = {
        "model": "m",
        "stream": True,
        "max_tokens": 3000,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Write a very long story about the sea."}],
    }
    for _ in range(100):  # the line is printed just before uvicorn listens
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models")
            break
        except httpx.TransportError:
            time.sleep(0.1)
    chunks: list[dict] = []
    with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body,
                      timeout=60) as response:  # fmt: skip
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
            if len(chunks) == 5:  # the answer streams
                break
        pressed = run.interrupt()
        rest = list(lines)
    took = run.exit_after(pressed)
    assert took < EXIT_LIMIT_S, took
    assert run.popen.returncode == 130, run.stderr
    assert "Traceback" not in run.stderr and "sink failed" not in run.stderr, run.stderr
    events = [line[6:] for line in rest if line.startswith("data: ")]
    finish = [json.loads(e)["choices"][0]["finish_reason"] for e in events[:-1]]
    assert (finish[-1], events[-1]) == ("cancelled", "[DONE]"), events[-3:]
