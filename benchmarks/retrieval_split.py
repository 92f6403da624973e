"""How long building the passage index of a one-paragraph text takes, and its peak memory.

A log or an export has no blank line: the whole text is one paragraph, cut into passages
of about 1,200 characters. Each size runs in a fresh process so its peak RSS is its own.
Token counts come from a model's tokenizer (`--model`, as a session open counts them) or,
without one, from a characters/4 estimate (the index's own work alone).

The baseline, in the same run on the same text: the splitter before issue 19 (kept as the
tests' oracle), which re-copied the rest of the paragraph after every cut; it runs for
sizes up to `--baseline-max` MB (its time grows with the square of the size).

    python -m benchmarks.retrieval_split 4 16 50 [--model PATH.gguf] [--baseline-max 16]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from desktop_app.core.chat.retrieval import PassageIndex, _split
from desktop_app.core.documents.model import Document, Unit

WORDS = "lease rent party notice clause payment term landlord tenant deposit days".split()


def _peak_mb() -> float:
    """This process's peak RSS (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**2 if sys.platform == "darwin" else 1024)


def _measure(megabytes: float, model: str | None, baseline_max: float) -> dict:
    rng = random.Random(1)
    text = " ".join(rng.choice(WORDS) for _ in range(int(megabytes * 1_000_000 / 6)))
    doc = Document(Path("big.txt"), "0" * 64, "big", "text", (Unit("section", None, None, text),))
    before = _peak_mb()
    start = time.perf_counter()
    pieces = sum(1 for _ in _split(text))
    split_s = time.perf_counter() - start
    baseline_s = None
    if megabytes <= baseline_max:
        from tests.unit.test_retrieval_split import _old_split

        start = time.perf_counter()
        assert len(_old_split(text)) == pieces
        baseline_s = time.perf_counter() - start
    with ExitStack() as stack:
        count = lambda t: len(t) // 4  # noqa: E731
        if model:
            from desktop_app.core.llm.tokenizer import VocabOnly

            count = stack.enter_context(VocabOnly(Path(model))).count
        start = time.perf_counter()
        PassageIndex([doc], count)
        index_s = time.perf_counter() - start
    return {"mb": megabytes, "pieces": pieces, "split_s": split_s, "baseline_s": baseline_s,
            "index_s": index_s, "rss_text_mb": before, "rss_peak_mb": _peak_mb()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=float, default=[4, 16, 50], help="MB")
    parser.add_argument("--model", help="count tokens with this GGUF's tokenizer")
    parser.add_argument("--baseline-max", type=float, default=16, help="MB (default 16)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(args.sizes[0], args.model, args.baseline_max)))
        return
    counter = "model tokenizer" if args.model else "chars/4 estimate"
    print(f"one-paragraph text; tokens counted by {counter}")
    for size in args.sizes:
        command = [sys.executable, "-m", "benchmarks.retrieval_split", str(size), "--one",
                   "--baseline-max", str(args.baseline_max)]  # fmt: skip
        out = subprocess.run(command + (["--model", args.model] if args.model else []),
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        r = json.loads(out)
        baseline = (f" (previous splitter {r['baseline_s']:.2f} s: "
                    f"{r['baseline_s'] / max(r['split_s'], 1e-9):,.0f}x slower)"
                    if r["baseline_s"] is not None else "")  # fmt: skip
        print(f"{r['mb']:>5.0f} MB: {r['pieces']:>6} passages; split {r['split_s']:.2f} s"
              f"{baseline}, index build (split + count + FTS) {r['index_s']:.2f} s; peak RSS "
              f"{r['rss_peak_mb']:.0f} MB (text alone {r['rss_text_mb']:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
