"""What `Engine.generate()` yields: progress, deltas, and the final `Done`.

Plain data shared by the CLI, the Qt worker and tests; no llama.cpp here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PrefillProgress:
    """The prompt is being read: `done` of `total` new tokens so far."""

    done: int
    total: int
    tokens_per_s: float | None = None
    eta_s: float | None = None
    #: Reading documents: "text" (pages parsed) or "ocr" (pages read by OCR).
    stage: str = ""


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class CitationsChecked:
    """The citations of the answer so far, checked as each one completes while the answer
    streams (`citations.counts` of the text so far): the view marks them before the end."""

    found: dict


@dataclass(frozen=True)
class GenerationStats:
    ttft_s: float | None
    prompt_tokens: int
    #: Tokens not read again: kept in the context, restored from a RAM checkpoint or disk.
    cached_tokens: int
    prefill_tokens: int
    prefill_tokens_per_s: float | None
    decode_tokens: int
    decode_tokens_per_s: float | None
    n_threads: int
    placement: str
    #: Where the cached tokens came from: "none", "ram" (context or checkpoint) or "disk".
    cache: str = "none"
    #: The answer's citations checked against the documents (`core/chat/citations.py`):
    #: counts per status and the summary line; None when not checked.
    citations: dict[str, object] | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Done:
    stats: GenerationStats
    #: "stop" (the model finished), "length" (max answer tokens reached),
    #: "context_full" (no room left in the context) or "cancelled".
    finish_reason: str
    answer: str = ""
    reasoning: str = ""
    #: The generated token ids (end-of-turn token excluded), for append-only history.
    tokens: tuple[int, ...] = ()


Event = PrefillProgress | ReasoningDelta | AnswerDelta | Done
