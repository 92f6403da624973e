"""The engine on real GGUFs: SmolLM2 (attention) and a tiny random qwen35 (hybrid)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import llama_cpp
import pytest

from desktop_app.core.chat.conversation import Attachment, Conversation
from desktop_app.core.hardware import GpuDevice, detect, physical_cores
from desktop_app.core.hardware.backends import ensure_loaded
from desktop_app.core.llm.engine import (
    AnswerDelta,
    ContextFull,
    Done,
    Engine,
    EngineConfig,
    LoadRequest,
    PrefillProgress,
    llama_loader,
)
from desktop_app.core.llm.sampling import SamplingParams
from desktop_app.errors import ModelLoadError
from desktop_app.settings import DEFAULT_SYSTEM_PROMPT

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0.0)
INVOICE = Conversation(
    DEFAULT_SYSTEM_PROMPT,
    [
        Attachment(
            "invoice.txt",
            "Invoice 2026-117. The invoice total is 1,250 euros, due on "
            "3 March 2026. The supplier is Acme GmbH.",
        )
    ],
)
QUESTION = INVOICE.messages_for("What is the invoice total?")


def collect(engine: Engine, messages, **kw) -> tuple[list, Done]:
    events = list(engine.stream(messages, **kw))
    assert isinstance(events[-1], Done)
    return events, events[-1]


def test_smollm2_streams_an_answer_with_sane_stats(smollm2_engine: Engine):
    events, done = collect(smollm2_engine, QUESTION, sampling=GREEDY, max_tokens=32)
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    assert len(deltas) >= 2, "answer must arrive token by token"
    assert "1,250" in done.answer
    assert done.answer == "".join(d.text for d in deltas)
    s = done.stats
    assert s.prompt_tokens == s.cached_tokens + s.prefill_tokens
    assert 0 < s.ttft_s < 30
    assert s.decode_tokens >= 2 and s.decode_tokens_per_s > 1
    assert s.prefill_tokens_per_s > 1
    assert s.n_threads == physical_cores()
    # This machine has no GPU: the placement says so, and why (the build's backends).
    assert s.placement == f"CPU (no GPU: {ensure_loaded().gpu_reason()})"
    assert done.finish_reason in ("stop", "length")


def test_threads_follow_physical_cores(smollm2_engine: Engine):
    assert smollm2_engine.n_threads == physical_cores()
    assert smollm2_engine.n_threads_batch >= smollm2_engine.n_threads
    ctx = smollm2_engine._llm.ctx
    assert llama_cpp.llama_n_threads(ctx) == physical_cores()


def test_context_is_the_callers_not_512(smollm2_engine: Engine):
    assert smollm2_engine.n_ctx == 2048


def test_prefill_progress_is_reported(smollm2_engine: Engine):
    long = [{"role": "user", "content": "word " * 700 + "\nSay hi."}]
    events, done = collect(smollm2_engine, long, sampling=GREEDY, max_tokens=4)
    progress = [e for e in events if isinstance(e, PrefillProgress)]
    assert len(progress) >= 2
    assert progress[-1].done == progress[-1].total == done.stats.prefill_tokens


def test_cancel_stops_within_one_token(smollm2_engine: Engine):
    cancel = threading.Event()
    seen_after_cancel = 0
    done = None
    msgs = [{"role": "user", "content": "Count from one to one hundred in words."}]
    for event in smollm2_engine.stream(msgs, sampling=GREEDY, max_tokens=200, cancel=cancel):
        if isinstance(event, AnswerDelta):
            if cancel.is_set():
                seen_after_cancel += 1
            cancel.set()
        if isinstance(event, Done):
            done = event
    assert done is not None and done.finish_reason == "cancelled"
    assert seen_after_cancel <= 1
    assert done.stats.decode_tokens <= 2


def test_max_tokens_marks_answer_as_cut_off(smollm2_engine: Engine):
    _, done = collect(smollm2_engine, QUESTION, sampling=GREEDY, max_tokens=3)
    assert done.finish_reason == "length"
    assert done.stats.decode_tokens == 3


def test_follow_up_reuses_the_cached_prefix_on_attention_model(smollm2_engine: Engine):
    conv = Conversation(INVOICE.system_prompt, INVOICE.documents)
    _, first = collect(
        smollm2_engine,
        conv.messages_for("What is the invoice total?"),
        sampling=GREEDY,
        max_tokens=40,
    )
    conv.record("What is the invoice total?", first.answer)
    _, second = collect(
        smollm2_engine, conv.messages_for("Who is the supplier?"), sampling=GREEDY, max_tokens=40
    )
    assert second.stats.cached_tokens >= first.stats.prompt_tokens
    assert second.stats.prefill_tokens < 30


def test_prompt_longer_than_context_is_refused_clearly(smollm2_engine: Engine):
    huge = [{"role": "user", "content": "lorem ipsum " * 3000}]
    with pytest.raises(ContextFull, match="tokens but the loaded context holds 2,048"):
        list(smollm2_engine.stream(huge))


def test_qwen35_loads_as_hybrid_and_streams(qwen35_engine: Engine):
    assert qwen35_engine.info.architecture == "qwen35"
    assert qwen35_engine.info.is_hybrid
    assert llama_cpp.llama_model_is_hybrid(qwen35_engine._llm.model)
    events, done = collect(qwen35_engine, QUESTION, sampling=GREEDY, max_tokens=12)
    assert done.stats.decode_tokens >= 1
    assert done.stats.decode_tokens_per_s is None or done.stats.decode_tokens_per_s > 0


def test_qwen35_template_thinking_switch(qwen35_engine: Engine):
    off = qwen35_engine.render(QUESTION, thinking=False)
    on = qwen35_engine.render(QUESTION, thinking=True)
    assert off.endswith("<think>\n\n</think>\n\n")
    assert on.endswith("<think>\n")


def test_qwen35_second_question_matches_a_fresh_context(qwen35_engine: Engine, tiny_qwen35_gguf):
    """A hybrid cache cannot be rolled back: reusing it wrongly would change the
    answer. The follow-up must equal what a freshly loaded model says."""
    base = [{"role": "system", "content": "Document: the fee is 42 euros. " * 20}]
    collect(qwen35_engine, base + QUESTION[1:], sampling=GREEDY, max_tokens=6)
    follow = base + [{"role": "user", "content": "What is the fee?"}]
    _, warm = collect(qwen35_engine, follow, sampling=GREEDY, max_tokens=6)
    fresh = Engine.load(EngineConfig(model_path=tiny_qwen35_gguf, n_ctx=2048))
    try:
        _, cold = collect(fresh, follow, sampling=GREEDY, max_tokens=6)
    finally:
        fresh.close()
    assert warm.answer == cold.answer
    assert warm.stats.decode_tokens == cold.stats.decode_tokens


# --------------------------------------------------------------- GPU fallback
def gpu_machine(free: int | None):
    hw = detect()
    gpu = GpuDevice(
        name="CUDA0", description="Fake GPU", kind="gpu", free_bytes=free, total_bytes=free
    )
    return replace(hw, gpu_offload=True, gpus=(gpu,))


def oom_above(limit: int, calls: list[int]):
    def loader(req: LoadRequest):
        calls.append(req.n_gpu_layers)
        if req.n_gpu_layers > limit:
            raise ValueError("Failed to create llama_context: cudaMalloc failed: out of memory")
        return llama_loader(replace(req, n_gpu_layers=0))  # this build has no GPU

    return loader


def test_full_offload_oom_falls_back_to_cpu_and_says_why(smollm2_gguf: Path):
    calls: list[int] = []
    engine = Engine.load(
        EngineConfig(model_path=smollm2_gguf, n_ctx=1024),
        hardware=gpu_machine(None),
        loader=oom_above(0, calls),
    )
    try:
        assert calls[0] == engine.info.n_layer + 1, "first try is full offload"
        assert calls[-1] == 0
        assert engine.placement.gpu_layers == 0
        assert "out of memory" in str(engine.placement)
        assert str(engine.placement).startswith("CPU (")
        _, done = collect(engine, QUESTION, sampling=GREEDY, max_tokens=4)
        assert done.stats.placement == str(engine.placement)
    finally:
        engine.close()


def test_an_attempt_whose_warm_up_fails_is_freed_before_the_next(smollm2_gguf: Path):
    """A GPU that loads the model but fails its first decode: that Llama must be closed
    before the smaller attempt loads, or both copies hold memory at once."""
    attempts: list[tuple[int, llama_cpp.Llama]] = []

    def loader(req: LoadRequest):
        llm = llama_loader(replace(req, n_gpu_layers=0))
        attempts.append((req.n_gpu_layers, llm))
        if req.n_gpu_layers > 0:

            def failing_eval(tokens):
                raise RuntimeError("llama_decode returned -3 (out of device memory)")

            llm.eval = failing_eval
        return llm

    engine = Engine.load(
        EngineConfig(model_path=smollm2_gguf, n_ctx=1024), hardware=gpu_machine(None),
        loader=loader,
    )  # fmt: skip
    try:
        failed = [llm for layers, llm in attempts if layers > 0]
        assert failed and engine.placement.gpu_layers == 0
        assert all(llm._ctx.ctx is None and llm._model.model is None for llm in failed)
        assert "out of device memory" in str(engine.placement)
    finally:
        engine.close()


def test_partial_offload_when_only_some_layers_fit(smollm2_gguf: Path):
    calls: list[int] = []
    engine = Engine.load(
        EngineConfig(model_path=smollm2_gguf, n_ctx=1024),
        hardware=gpu_machine(None),
        loader=oom_above(10, calls),
    )
    try:
        total = engine.info.n_layer + 1
        assert 0 < engine.placement.gpu_layers <= 10
        assert str(engine.placement).startswith(f"GPU {engine.placement.gpu_layers}/{total} layers")
        assert calls == sorted(calls, reverse=True)
    finally:
        engine.close()


def test_estimate_from_free_vram_picks_the_first_try(smollm2_gguf: Path):
    calls: list[int] = []
    free = 380 * 1024**2  # a little above the compute buffers: only a few layers fit
    engine = Engine.load(
        EngineConfig(model_path=smollm2_gguf, n_ctx=1024),
        hardware=gpu_machine(free),
        loader=oom_above(100, calls),
    )
    try:
        assert 0 < calls[0] < engine.info.n_layer + 1
        assert "free GPU memory" in str(engine.placement)
    finally:
        engine.close()


def test_no_placement_works_is_a_clear_error(smollm2_gguf: Path):
    def broken(req: LoadRequest):
        raise ValueError("Failed to load model from file")

    with pytest.raises(ModelLoadError, match="could not load SmolLM2.*CPU: Failed to load"):
        Engine.load(EngineConfig(model_path=smollm2_gguf, n_ctx=1024), loader=broken)


def test_context_too_big_for_ram_is_refused_before_loading(smollm2_gguf: Path):
    hw = replace(detect(), ram_available_bytes=256 * 1024**2)
    with pytest.raises(ModelLoadError, match="Not enough memory for a 8,192-token context"):
        Engine.load(
            EngineConfig(model_path=smollm2_gguf, n_ctx=8192), hardware=hw, loader=oom_above(0, [])
        )
