"""Time from Ctrl+C (or a client going away) to the end, in every phase, on a 9B-shaped model.

Each phase is a real `folio` process, run as a user runs it, with the app's own threads
and settings (`--model` only; no other flag but `-v` where a log line marks the phase):

  extraction   `folio ask big.pdf` (3,000 pages: 5 s of parsing here), Ctrl+C 0.5 s after
               the reader's child started
  load         `folio ask`, Ctrl+C 0.3 s after llama.cpp begins loading the weights
  prefill      `folio ask doc.txt`, Ctrl+C 3 s into reading the document into the model
  prefill x2   the same, Ctrl+C pressed twice 50 ms apart
  answer       `folio ask -q … -q …`, Ctrl+C at the first answer bytes
  summarize    `folio summarize doc.txt`, Ctrl+C 3 s into reading the document
  serve: Ctrl+C   `folio serve` with a request mid-answer
  API: disconnect mid-prefill / mid-answer   a streaming client closes its connection; the
               time until the next request's first byte, less that request's time when idle

The model: random weights in Qwen3.5-9B's shape (32 layers, hidden 4096, 16 query / 4 KV
heads of 256, FFN 12288, DeltaNet 16 key / 32 value heads of 128; SmolLM2's 49K vocabulary),
Q4_0, written once to benchmarks/.cache (about 4.6 GB, some minutes). `--tree DIR` runs
another checkout's code (e.g. `git archive HEAD` unpacked) for a before/after table.

    .venv/bin/python benchmarks/stop_latency.py [--model 9b|0.8b|PATH] [--tree DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app import settings as settings_mod  # noqa: E402
from tests.fixtures.folio_process import FolioProcess, alive  # noqa: E402
from tests.fixtures.gguf_factory import QWEN35_0_8B_SHAPE, write_tiny_qwen35  # noqa: E402
from tests.fixtures.pdf_factory import make_long_pdf  # noqa: E402
from tests.support import free_port  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
#: Qwen3.5-9B's shapes as its config.json gives them, but SmolLM2's vocabulary.
QWEN35_9B_SHAPE: dict[str, int] = {
    "n_layer": 32,
    "n_embd": 4096,
    "n_head": 16,
    "n_head_kv": 4,
    "head_dim": 256,
    "n_ff": 12288,
    "ssm_d_state": 128,
    "ssm_n_group": 16,
    "ssm_dt_rank": 32,
    "ssm_d_conv": 4,
}
SHAPES = {"9b": QWEN35_9B_SHAPE, "0.8b": QWEN35_0_8B_SHAPE}
LONG_QUESTION = "Write a very long story about a lighthouse keeper, a storm and a ship."
#: The budget the issue sets, and what a row is marked against.
BUDGET_S = 1.0


def model(name: str) -> Path:
    if name not in SHAPES:
        return Path(name)
    path = CACHE / f"qwen35-{name}-shaped-q4_0.gguf"
    if not path.exists():
        print(f"writing {path.name} (once)…", file=sys.stderr, flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_tiny_qwen35(tmp, **SHAPES[name], weight_type="q4_0")
        tmp.rename(path)
    return path


def document(folder: Path, n_sections: int) -> Path:
    """A contract-like text, whole in view (about 60 tokens a section)."""
    doc = folder / "contract.txt"
    doc.write_text("\n\n".join(
        f"Clause {n}. The fee for item {n} is {n * 7} euros, payable within {n + 10} days of "
        f"the invoice; late payment of item {n} carries interest of {n % 9 + 1} percent."
        for n in range(1, n_sections + 1)
    ))  # fmt: skip
    return doc


class Bench:
    def __init__(self, tree: Path, model_path: Path, work: Path) -> None:
        self.tree, self.model, self.work = tree, model_path, work
        self.rows: list[tuple[str, float, str]] = []

    def folio(self, name: str, *args: str) -> FolioProcess:
        """A run with its own FOLIO_HOME: the app's defaults, but an answer long enough to
        be stopped and an 8K context (the 9B's full context would take most of the RAM)."""
        home = self.work / name
        home.mkdir()
        os.environ["FOLIO_HOME"] = str(home)
        settings_mod.save(settings_mod.Settings(max_answer_tokens=2000, n_ctx=8192))
        return FolioProcess(self.tree, home, *args)

    def record(self, phase: str, run: FolioProcess, pressed: float, orphans: list[int]) -> None:
        took = run.exit_after(pressed)
        note = f"exit {run.popen.returncode}"
        if left := alive(orphans):
            note += f"; {len(left)} child(ren) left running"
        self.rows.append((phase, took, note))
        print(f"{phase:<34} {took:7.2f} s  {note}", file=sys.stderr, flush=True)

    def ask_phase(self, phase: str, args: list[str], at: Callable[[FolioProcess], float],
                  presses: int = 1) -> None:  # fmt: skip
        run = self.folio(phase.replace(" ", "-"), *args)
        try:
            at(run)
            children = run.children()
            pressed = run.interrupt(presses)
            self.record(phase, run, pressed, children)
        finally:
            if run.popen.poll() is None:
                run.popen.kill()

    def run_cli(self) -> None:
        m = ["--model", str(self.model)]
        pdf = self.work / "big.pdf"
        pdf.write_bytes(make_long_pdf(3000))
        doc = document(self.work, 60)  # ~3,600 tokens: minutes of reading on 2 cores
        notes = self.work / "notes.txt"
        notes.write_text("The fee for item 1 is 7 euros.\n")

        def extracting(run: FolioProcess) -> float:
            while not run.children():  # the reader's child: the parse has begun
                assert run.popen.poll() is None, run.stderr
                time.sleep(0.05)
            time.sleep(0.5)
            return time.monotonic()

        def loading(run: FolioProcess) -> float:
            run.wait_for("load_tensors")
            time.sleep(0.3)
            return time.monotonic()

        def reading_documents(run: FolioProcess) -> float:
            run.wait_for("Documents: ")
            time.sleep(3)
            return time.monotonic()

        self.ask_phase("extraction (3,000-page PDF)", ["ask", *m, str(pdf), "-q", "Fee?"],
                       extracting)  # fmt: skip
        self.ask_phase("load", ["-v", "ask", *m, str(notes), "-q", "Fee?"], loading)
        self.ask_phase("prefill (document into model)", ["ask", *m, str(doc), "-q", "Fee?"],
                       reading_documents)  # fmt: skip
        self.ask_phase("prefill, Ctrl+C twice", ["ask", *m, str(doc), "-q", "Fee?"],
                       reading_documents, presses=2)  # fmt: skip
        self.ask_phase("answer", ["ask", *m, "-q", LONG_QUESTION, "-q", "And then?"],
                       lambda run: run.wait_for_answer())  # fmt: skip

        def summarizing(run: FolioProcess) -> float:
            run.wait_for("llama_context")  # the model is loaded; the document is read next
            time.sleep(3)
            return time.monotonic()

        self.ask_phase("summarize (reading)", ["-v", "summarize", *m, str(doc)], summarizing)

    def run_api(self) -> None:
        port = free_port()
        run = self.folio("serve", "serve", "--model", str(self.model), "--port", str(port),
                         "--ctx", "8192")  # fmt: skip
        try:
            run.wait_for("Folio API at")  # printed just before uvicorn listens
            _wait_listening(port)
            long_prompt = document(self.work, 60).read_text() + "\n\nWhat is the fee for item 7?"
            for phase, prompt, cut in (
                ("API: disconnect mid-prefill", long_prompt, _after(3.0)),
                ("API: disconnect mid-answer", LONG_QUESTION, _first_content),
            ):
                conn = _stream(port, prompt)
                cut(conn)
                gone = time.monotonic()
                conn.close()
                took = _quiet_after(run.popen.pid, gone)
                self.rows.append((phase, took, "until the server's CPU use fell to idle"))
                print(f"{phase:<34} {took:7.2f} s", file=sys.stderr, flush=True)
                time.sleep(1)
            conn = _stream(port, LONG_QUESTION)
            _first_content(conn)
            pressed = run.interrupt()
            self.record("serve: Ctrl+C mid-answer", run, pressed, [])
        finally:
            if run.popen.poll() is None:
                run.popen.kill()

    def table(self) -> str:
        lines = [f"{'phase':<34} {'to end':>8}  {'≤ 1 s':<5}  notes", "-" * 78]
        for phase, took, note in self.rows:
            ok = "yes" if took <= BUDGET_S else "NO"
            lines.append(f"{phase:<34} {took:7.2f}s  {ok:<5}  {note}")
        return "\n".join(lines)


def _body(prompt: str, stream: bool, max_tokens: int) -> str:
    return json.dumps({"model": "m", "stream": stream, "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": prompt}]})  # fmt: skip


def _stream(port: int, prompt: str) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/chat/completions", _body(prompt, True, 2000),
                 {"Content-Type": "application/json"})  # fmt: skip
    return conn


def _after(seconds: float) -> Callable[[http.client.HTTPConnection], None]:
    return lambda conn: time.sleep(seconds)


def _first_content(conn: http.client.HTTPConnection) -> None:
    response = conn.getresponse()
    while line := response.readline():
        if b'"content": "' in line and b'"content": ""' not in line:
            return


def _quiet_after(pid: int, since: float, timeout_s: float = 300) -> float:
    """Seconds from `since` until `pid` stopped computing: the start of the first 0.2 s in
    which it used under a fifth of a core (a 9B decode keeps every core busy)."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    samples = [(time.monotonic(), cpu_s())]
    while samples[-1][0] - since < timeout_s:
        time.sleep(0.02)
        samples.append((time.monotonic(), cpu_s()))
        start = next((s for s in samples if samples[-1][0] - s[0] <= 0.2), samples[-1])
        if samples[-1][0] - start[0] >= 0.18 and samples[-1][1] - start[1] < 0.2 * 0.2:
            return max(0.0, start[0] - since)
    return float("inf")


def _wait_listening(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _short_request(port: int) -> float:
    """Seconds for a 1-token completion of a short prompt, from now."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/chat/completions", _body("Hi", False, 1),
                 {"Content-Type": "application/json"})  # fmt: skip
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="9b", help="9b, 0.8b (shaped) or a GGUF path")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--only", choices=["cli", "api"], help="one half of the phases")
    args = parser.parse_args()
    path = model(args.model)
    with tempfile.TemporaryDirectory() as work:
        bench = Bench(args.tree.resolve(), path, Path(work))
        if args.only != "api":
            bench.run_cli()
        if args.only != "cli":
            bench.run_api()
    print(f"\n{path.name} · code in {args.tree}\n{bench.table()}")


if __name__ == "__main__":
    main()
