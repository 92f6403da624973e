"""The local API: `folio serve` against llama-cpp-python's own server, same model and settings.

20 requests share a long system prompt (a document) and each asks a different short
question, as a script summarizing or querying one document does. Both servers load the same
GGUF with the same context, threads, batch size and flash-attention choice, and every
request is greedy with the same answer length; requests alternate between the servers so
machine noise hits both alike. Reported: median time to first token and total time per
request, and Folio's ratio to the baseline.

The baseline needs llama-cpp-python's server extra without rebuilding the wheel:
    .venv/bin/pip install fastapi sse-starlette starlette-context pydantic-settings
    .venv/bin/python benchmarks/serve.py                     # SmolLM2 and a 0.8B-shaped qwen35
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402

from tests.fixtures.gguf_factory import QWEN35_0_8B_SHAPE, smollm2_path, write_tiny_qwen35  # noqa: E402
from tests.support import free_port  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
N_CTX, THREADS, BATCH, ANSWER = 8192, 2, 512, 16
#: The baseline, with the build's backend modules loaded first (as Folio loads them).
BASELINE = ("from desktop_app.core.hardware.backends import ensure_loaded; ensure_loaded(); "
            "import runpy, sys; sys.argv[0] = 'llama_cpp.server'; "
            "runpy.run_module('llama_cpp.server', run_name='__main__')")  # fmt: skip


def _document(words: int) -> str:
    clauses = [f"Clause {i}: the fee for item {i} is {i * 37 % 1000} euros, payable by day "
               f"{i % 28 + 1}." for i in range(1, words // 14 + 1)]  # fmt: skip
    return "Summarize and answer questions about this contract.\n\n" + " ".join(clauses)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait(base: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        try:
            httpx.get(f"{base}/models", timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.2)
    raise SystemExit("server did not start")


def _request(base: str, system: str, question: str) -> tuple[float, float]:
    body = {"model": "m", "stream": True, "temperature": 0, "max_tokens": ANSWER,
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": question}]}  # fmt: skip
    start = time.perf_counter()
    first = None
    with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=600) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"]
                if first is None and delta and delta[0]["delta"].get("content"):
                    first = time.perf_counter() - start
    return (first if first is not None else float("nan")), time.perf_counter() - start


def run(model: Path, rounds: int, words: int) -> None:
    home = Path(tempfile.mkdtemp())
    (home / "config").mkdir()
    (home / "config" / "settings.json").write_text(json.dumps({
        "n_threads": THREADS, "flash_attn": "off", "kv_cache_type": "f16", "state_cache_gb": 0,
    }))  # fmt: skip
    env = {**os.environ, "FOLIO_HOME": str(home)}
    fport, bport = free_port(), free_port()
    folio = _start([sys.executable, "-m", "desktop_app", "serve", "--model", str(model),
                    "--port", str(fport), "--ctx", str(N_CTX)], env)  # fmt: skip
    same = ["--n_ctx", str(N_CTX), "--n_threads", str(THREADS), "--n_threads_batch",
            str(THREADS), "--n_batch", str(BATCH), "--flash_attn", "false"]  # fmt: skip
    base = _start([sys.executable, "-c", BASELINE, "--model", str(model), "--port", str(bport),
                   *same], env)  # fmt: skip
    try:
        urls = {"folio": f"http://127.0.0.1:{fport}/v1", "baseline": f"http://127.0.0.1:{bport}/v1"}
        for name, proc in (("folio", folio), ("baseline", base)):
            _wait(urls[name], proc)
        system = _document(words)
        times: dict[str, list[tuple[float, float]]] = {"folio": [], "baseline": []}
        for i in range(rounds):
            question = f"What is the fee for item {i * 7 % 90 + 1}?"
            for name in ("baseline", "folio") if i % 2 else ("folio", "baseline"):
                times[name].append(_request(urls[name], system, question))
        print(
            f"\n{model.name}: {rounds} requests sharing a {words:,}-word system prompt, "
            f"{N_CTX:,} context, {THREADS} threads, batch {BATCH}, greedy, {ANSWER} tokens"
        )
        rows = {}
        for name, samples in times.items():
            ttft = statistics.median(t for t, _ in samples)
            total = statistics.median(t for _, t in samples)
            rows[name] = (ttft, total, sum(t for _, t in samples))
        for name, (ttft, total, whole) in rows.items():
            print(f"  {name:9s} median ttft {ttft:7.3f} s · median request {total:7.3f} s · "
                  f"all {whole:7.2f} s")  # fmt: skip
        (bt, btot, ball), (ft, ftot, fall) = rows["baseline"], rows["folio"]
        print(f"  folio / baseline: ttft {ft / bt:.2f}x · request {ftot / btot:.2f}x · "
              f"all {fall / ball:.2f}x (lower is faster)")  # fmt: skip
    finally:
        for proc in (folio, base):
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2,qwen35")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--words", type=int, default=2000)
    args = parser.parse_args()
    for name in args.models.split(","):
        if name == "smollm2":
            model = smollm2_path()
        else:
            CACHE.mkdir(parents=True, exist_ok=True)
            model = CACHE / "qwen35-0.8b-shaped-q4_0.gguf"
            if not model.exists():
                write_tiny_qwen35(model, **QWEN35_0_8B_SHAPE, weight_type="q4_0")
        run(model, args.rounds, args.words)


if __name__ == "__main__":
    main()
