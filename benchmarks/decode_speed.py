"""Decode speed: Folio's engine vs llama-cpp-python's own streaming, same settings, same run.

Both sides load the same GGUF with the same context size, threads (decode and batch) and
batch size, and answer the same chat prompt for a fixed number of tokens with the same
sampler settings (the model's preset); runs alternate (baseline, Folio, baseline, Folio, ...)
so that machine noise hits both alike, and the report is the ratio of medians. The baseline
is `Llama(...)` + `create_chat_completion(stream=True)`, llama-cpp-python's usual path, which
rebuilds its sampler for every token. (An earlier version compared against llama-cpp-python's
defaults, fewer threads among them, which measured the settings rather than the engine.)

    .venv/bin/python benchmarks/decode_speed.py                 # SmolLM2 + 0.8B-shaped qwen35
    .venv/bin/python benchmarks/decode_speed.py --models smollm2 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from desktop_app.core.hardware.backends import ensure_loaded  # noqa: E402

ensure_loaded()  # the build's CPU/GPU modules, as the app loads them

from desktop_app.core.llm.engine import Done, Engine, EngineConfig  # noqa: E402
from desktop_app.core.llm.sampling import SamplingParams, preset_for  # noqa: E402
from tests.fixtures.gguf_factory import smollm2_path, write_tiny_qwen35  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
N_CTX = 4096
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."},
]


def qwen35_08b_shaped() -> Path:
    """Random weights in Qwen3.5-0.8B's shape (24 layers, 1024 wide), written once."""
    path = CACHE / "qwen35-0.8b-shaped-q8_0.gguf"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_tiny_qwen35(
            path.with_suffix(".tmp"),
            n_layer=24,
            n_embd=1024,
            n_head=8,
            n_head_kv=2,
            head_dim=256,
            n_ff=3584,
            ssm_d_state=128,
            ssm_n_group=16,
            ssm_dt_rank=16,
            weight_type="q8_0",
        )
        path.with_suffix(".tmp").rename(path)
    return path


MODELS = {"smollm2": smollm2_path, "qwen35-0.8b": qwen35_08b_shaped}


def baseline_run(llm: llama_cpp.Llama, n_tokens: int, params: SamplingParams) -> float:
    """Decode tokens/s of llama-cpp-python's streamed chat completion."""
    llm.reset()
    times: list[float] = []
    chunks = llm.create_chat_completion(
        MESSAGES, max_tokens=n_tokens, stream=True, temperature=params.temperature,
        top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
        presence_penalty=params.presence_penalty, repeat_penalty=params.repeat_penalty,
        seed=params.seed,
    )  # fmt: skip
    for _chunk in chunks:
        times.append(time.perf_counter())
    # First chunk is the role header; the rest carry one token each.
    times = times[1:]
    return (len(times) - 1) / (times[-1] - times[0])


def folio_run(engine: Engine, n_tokens: int, params: SamplingParams) -> float:
    engine.reset()
    for event in engine.stream(MESSAGES, max_tokens=n_tokens, sampling=params):
        if isinstance(event, Done):
            assert event.stats.decode_tokens_per_s is not None
            return event.stats.decode_tokens_per_s
    raise RuntimeError("stream ended without Done")


def bench(name: str, path: Path, rounds: int, n_tokens: int) -> tuple[float, float, int, int]:
    engine = Engine.load(EngineConfig(model_path=path, n_ctx=N_CTX))
    base = llama_cpp.Llama(
        str(path), n_ctx=N_CTX, n_batch=engine.config.n_batch, n_ubatch=engine.config.n_batch,
        n_threads=engine.n_threads, n_threads_batch=engine.n_threads_batch,
        flash_attn=engine.flash_attn, verbose=False,
    )  # fmt: skip
    params = preset_for(engine.info.architecture, False)
    base_tps: list[float] = []
    folio_tps: list[float] = []
    try:
        baseline_run(base, 8, params), folio_run(engine, 8, params)  # warm caches, page in
        for _ in range(rounds):
            base_tps.append(baseline_run(base, n_tokens, params))
            folio_tps.append(folio_run(engine, n_tokens, params))
    finally:
        threads = (base.n_threads, engine.n_threads)
        base.close()
        engine.close()
    return statistics.median(base_tps), statistics.median(folio_tps), *threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    print(
        f"decode tokens/s, median of {args.rounds} alternating rounds, "
        f"{args.tokens} tokens, n_ctx={N_CTX}, same threads, batch and sampler on both sides"
    )
    print(f"{'model':<14}{'baseline':>10}{'folio':>10}{'ratio':>8}  threads (baseline/folio)")
    for name in args.models.split(","):
        base, folio, t_base, t_folio = bench(name, MODELS[name](), args.rounds, args.tokens)
        print(f"{name:<14}{base:>10.1f}{folio:>10.1f}{folio / base:>7.2f}x  {t_base}/{t_folio}")


if __name__ == "__main__":
    main()
