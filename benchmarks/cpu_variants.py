"""Prefill and decode speed of the CPU module Folio picks against the AVX2 (`haswell`) module.

The `haswell` module is built with AVX, AVX2, FMA, F16C and BMI2: the instruction sets of the
portable AVX2 build Folio shipped before dynamic backends. Both run in the same build, in
child processes (a process holds one CPU backend), alternating rounds, with the same model,
threads, context, batch and token ids; only FOLIO_CPU_VARIANT differs.

    .venv/bin/python benchmarks/cpu_variants.py [--rounds 3] [--prompt 512] [--decode 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
N_CTX = 2048
N_BATCH = 512


def child(model: str, n_prompt: int, n_decode: int) -> dict[str, object]:
    import llama_cpp

    from desktop_app.core.hardware import physical_cores
    from desktop_app.core.hardware.backends import ensure_loaded

    status = ensure_loaded()
    threads = physical_cores()
    llm = llama_cpp.Llama(
        model, n_ctx=N_CTX, n_batch=N_BATCH, n_ubatch=N_BATCH, n_threads=threads,
        n_threads_batch=threads, verbose=False,
    )  # fmt: skip
    tokens = [(i * 7919) % 1000 + 10 for i in range(n_prompt + n_decode)]
    llm.eval(tokens[:8])  # warm the threads and caches
    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    start = time.perf_counter()
    llm.eval(tokens[:n_prompt])
    prefill = n_prompt / (time.perf_counter() - start)
    start = time.perf_counter()
    for token in tokens[n_prompt:]:
        llm.eval([token])
    decode = n_decode / (time.perf_counter() - start)
    return {"variant": status.cpu_variant, "prefill": prefill, "decode": decode, "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--decode", type=int, default=32)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.prompt, args.decode)))
        return

    from benchmarks.decode_speed import qwen35_08b_shaped

    model = str(qwen35_08b_shaped())
    runs: dict[str, list[dict]] = {"haswell": [], "auto": []}
    for _ in range(args.rounds):
        for name in runs:
            env = dict(os.environ)
            env.pop("FOLIO_CPU_VARIANT", None)
            if name != "auto":
                env["FOLIO_CPU_VARIANT"] = name
            out = subprocess.run(
                [sys.executable, __file__, "--child", model, "--prompt", str(args.prompt),
                 "--decode", str(args.decode)],
                env=env, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), "unknown CPU",
    )  # fmt: skip
    base = {k: statistics.median(r[k] for r in runs["haswell"]) for k in ("prefill", "decode")}
    print(f"{cpu}; qwen35 0.8B-shaped q8_0; {runs['auto'][0]['threads']} threads, "
          f"n_ctx {N_CTX}, batch {N_BATCH}, {args.prompt}-token prefill, {args.decode} decoded; "
          f"median of {args.rounds} alternating rounds")  # fmt: skip
    print(f"{'module':<22}{'prefill tok/s':>14}{'ratio':>8}{'decode tok/s':>14}{'ratio':>8}")
    for name, results in runs.items():
        label = f"{results[0]['variant']} ({'AVX2 baseline' if name == 'haswell' else 'chosen'})"
        pre = statistics.median(r["prefill"] for r in results)
        dec = statistics.median(r["decode"] for r in results)
        print(f"{label:<22}{pre:>14.1f}{pre / base['prefill']:>7.2f}x"
              f"{dec:>14.1f}{dec / base['decode']:>7.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
