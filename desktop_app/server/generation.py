"""One API completion as an engine job: the prompt, stop strings, and what the response needs.

The job runs on the engine thread like every other engine job (core/chat/engine_queue.py),
so API requests take their turn with the window's answers, one at a time, in order, and use
the same engine, checkpoints and saved states. A system prompt (or a document in it) shared
by many requests is checkpointed where the requests part, so it is read once.

A request that cannot fit is answered with `Rejected` before anything is read, so the
server can still send a plain 400 rather than an error inside a stream. One far too long to
fit is refused by its length in characters, before it is rendered and tokenized: a 30 MB
message took 3.4 GB and made the next request wait 46 s just to be counted.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from desktop_app.core.llm.chat_template import SENTINEL
from desktop_app.core.llm.checkpoints import common_prefix
from desktop_app.core.llm.engine import Engine
from desktop_app.core.llm.events import AnswerDelta, Done, ReasoningDelta
from desktop_app.core.llm.reasoning import prompt_opens_reasoning
from desktop_app.core.llm.sampling import preset_for
from desktop_app.server.requests import ApiError, ChatRequest

#: Characters per token of context past which a prompt is refused unread. Text averages about
#: 4 a token (this repository's sources and docs: at most 4.3 with SmolLM2's tokenizer), code
#: indented 64 spaces deep 11.7; only long runs of one character ("=====", up to 64 a token)
#: average more, and such a prompt is not worth rendering. So at most 16 x the context in
#: characters is ever rendered and tokenized.
MAX_CHARS_PER_TOKEN = 16


@dataclass(frozen=True)
class Completion:
    """How a completion ended, for the last chunk and `usage`."""

    finish_reason: str  # "stop" | "length" | "cancelled" (the client went away)
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Rejected:
    error: ApiError


class StopScanner:
    """Cuts streamed text at the first stop string, holding back a tail that may be the
    start of one, so a stop string never reaches the client, not even split across tokens."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._held = ""
        self.hit = False

    def feed(self, text: str) -> str:
        if not self._stops or self.hit:
            return "" if self.hit else text
        buf = self._held + text
        found = [i for s in self._stops if (i := buf.find(s)) >= 0]
        if found:
            self.hit, self._held = True, ""
            return buf[: min(found)]
        keep = max((k for s in self._stops for k in range(1, len(s))
                    if buf.endswith(s[:k])), default=0)  # fmt: skip
        self._held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def chat_job(
    engine: Engine | None, request: ChatRequest, cancel: threading.Event
) -> Iterator[object]:
    """Stream the completion of `request`: `ReasoningDelta`/`AnswerDelta`, then `Completion`
    (or only `Rejected`)."""
    if engine is None:
        yield Rejected(ApiError(503, "The model is still loading; try again shortly.",
                                type="server_error", headers={"Retry-After": "5"}))  # fmt: skip
        return
    messages = list(request.messages)
    chars = sum(len(m["content"]) for m in messages)
    if chars > engine.n_ctx * MAX_CHARS_PER_TOKEN:
        yield _too_long(engine.n_ctx, f"{chars:,} characters, far more than fit")
        return
    text = engine.render(messages, thinking=request.thinking)
    tokens = engine.tokenize(text)
    room = engine.n_ctx - len(tokens)
    if room < 1:
        yield _too_long(engine.n_ctx, f"{len(tokens):,}")
        return
    sampling = preset_for(engine.info.architecture, request.thinking)
    overrides = {"temperature": request.temperature, "top_p": request.top_p, "seed": request.seed,
                 "grammar": request.grammar or None}  # fmt: skip
    given = {key: value for key, value in overrides.items() if value is not None}
    sampling = dataclasses.replace(sampling, **given)
    scanner = StopScanner(request.stop)
    done: Done | None = None
    for event in engine.generate(
        tokens,
        opens_reasoning=prompt_opens_reasoning(text),
        sampling=sampling,
        max_tokens=min(request.max_tokens, room),
        cancel=cancel,
        checkpoints=[p for p in (_shared_prefix(engine, messages, tokens, request),) if p],
    ):
        if isinstance(event, AnswerDelta):
            if out := scanner.feed(event.text):
                yield AnswerDelta(out)
            if scanner.hit:
                cancel.set()  # the engine stops within one token
        elif isinstance(event, ReasoningDelta):
            yield event
        elif isinstance(event, Done):
            done = event
    if done is None:
        return
    if not scanner.hit and (tail := scanner.flush()):
        yield AnswerDelta(tail)
    reason = (
        "stop"
        if scanner.hit
        else {"length": "length", "context_full": "length"}.get(
            done.finish_reason, done.finish_reason
        )
    )
    yield Completion(reason, len(tokens), done.stats.decode_tokens)


def _too_long(n_ctx: int, size: str) -> Rejected:
    return Rejected(ApiError(
        400, f"This model's context holds {n_ctx:,} tokens; the messages take {size}. "
        "Shorten them.", param="messages", code="context_length_exceeded",
    ))  # fmt: skip


def _shared_prefix(engine: Engine, messages: list, tokens: list[int], request: ChatRequest) -> int:
    """Where the system messages end in `tokens`: requests that share them part there, so
    the state is checkpointed there (a hybrid model's cache cannot be rolled back)."""
    system = [m for m in messages if m["role"] == "system"]
    if not system or len(system) == len(messages):
        return 0
    probe = system + [{"role": "user", "content": SENTINEL}]
    return common_prefix(tokens, engine.tokenize(engine.render(probe, thinking=request.thinking)))
