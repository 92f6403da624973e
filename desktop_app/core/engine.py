"""The in-process llama.cpp engine: load with GPU→CPU fallback, render, stream.

One `Engine` owns one `llama_cpp.Llama` (model + context). It is not
thread-safe: in the app exactly one worker thread owns it; the CLI uses it
directly. `stream()` is a generator of events so callers (CLI, Qt worker,
tests) consume answers the same way and can stop between any two tokens.

We drive prefill and decoding ourselves (`Llama.eval` in micro-batches, the C
sampler chain) instead of `Llama.generate()` because we need progress and
cancel during prefill, exact stats, and control over cache reuse.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import llama_cpp

from desktop_app.core import hardware as hw_mod
from desktop_app.core.chat_template import ChatTemplate, Message
from desktop_app.core.hardware import Hardware
from desktop_app.core.llama_log import route_llama_logs
from desktop_app.core.model_files import ModelInfo, read_model_info
from desktop_app.core.placement import GiB, Placement, gpu_attempts, offloadable_layers
from desktop_app.core.reasoning import ReasoningSplitter, prompt_opens_reasoning
from desktop_app.core.sampling import Sampler, SamplingParams, preset_for
from desktop_app.errors import FolioError, ModelLoadError

log = logging.getLogger(__name__)

CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}


@dataclass(frozen=True)
class EngineConfig:
    model_path: Path
    #: Context length in tokens, chosen by the caller (see placement.fit_context).
    n_ctx: int
    #: None = as many GPU layers as fit, 0 = CPU only, N = at most N.
    gpu_layers: int | None = None
    #: None = physical cores (decode is memory-bound; hyperthreads do not help).
    n_threads: int | None = None
    #: None = logical cores (prefill is compute-bound and uses them all).
    n_threads_batch: int | None = None
    flash_attn: str = "auto"
    kv_cache_type: str = "f16"
    n_batch: int = 512


@dataclass(frozen=True)
class LoadRequest:
    """Everything one load attempt passes to llama.cpp (also what tests inject)."""

    model_path: str
    n_gpu_layers: int
    n_ctx: int
    n_batch: int
    n_threads: int
    n_threads_batch: int
    flash_attn: bool
    cache_type: str


Loader = Callable[[LoadRequest], llama_cpp.Llama]


def llama_loader(req: LoadRequest) -> llama_cpp.Llama:
    ggml_type = CACHE_TYPES[req.cache_type]
    return llama_cpp.Llama(
        model_path=req.model_path,
        n_gpu_layers=req.n_gpu_layers,
        n_ctx=req.n_ctx,
        n_batch=req.n_batch,
        n_ubatch=req.n_batch,
        n_threads=req.n_threads,
        n_threads_batch=req.n_threads_batch,
        flash_attn=req.flash_attn,
        type_k=ggml_type,
        type_v=ggml_type,
        verbose=False,
    )


def decide_flash_attn(setting: str, on_gpu: bool, cache_type: str) -> tuple[bool, str]:
    """Flash attention on or off, and why.

    Measured on a 2-core x86 CPU at a 4.8K-token context: flash attention made
    decode 20-35% slower (SmolLM2 22 vs 35 tok/s; 0.8B-shaped qwen35 20.5 vs
    25.4) with prefill about equal, so `auto` turns it off on CPU. On GPUs it is
    faster, and a quantized V cache cannot work without it.
    """
    if cache_type != "f16":
        return True, f"required by the {cache_type} KV cache"
    if setting == "on":
        return True, "on in settings"
    if setting == "off":
        return False, "off in settings"
    if on_gpu:
        return True, "auto: faster on GPU"
    return False, "auto: slower for decoding on CPU"


@dataclass(frozen=True)
class PrefillProgress:
    done: int
    total: int


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class GenerationStats:
    ttft_s: float | None
    prompt_tokens: int
    cached_tokens: int
    prefill_tokens: int
    prefill_tokens_per_s: float | None
    decode_tokens: int
    decode_tokens_per_s: float | None
    n_threads: int
    placement: str

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


Event = PrefillProgress | ReasoningDelta | AnswerDelta | Done


class ContextFull(FolioError):
    """The prompt does not fit in the loaded context."""


@dataclass
class _Timer:
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class Engine:
    """A loaded model and its context. Create with `Engine.load()`."""

    def __init__(
        self,
        llm: llama_cpp.Llama,
        info: ModelInfo,
        config: EngineConfig,
        placement: Placement,
        flash_attn: tuple[bool, str],
        n_threads: int,
        n_threads_batch: int,
    ) -> None:
        self._llm = llm
        self.info = info
        self.config = config
        self.placement = placement
        self.flash_attn, self.flash_attn_reason = flash_attn
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        bos_id = llm.token_bos()
        eos_id = llm.token_eos()
        self._bos_text = self._piece(bos_id) if bos_id >= 0 else ""
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab)) and bos_id >= 0
        self.template = ChatTemplate(
            info.chat_template,
            bos_token=self._bos_text,
            eos_token=self._piece(eos_id) if eos_id >= 0 else "",
        )

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        config: EngineConfig,
        *,
        hardware: Hardware | None = None,
        loader: Loader = llama_loader,
    ) -> Engine:
        """Load the model, trying the GPU first and falling back to fewer layers, then CPU.

        Raises `ModelFileError` for a bad file and `ModelLoadError` when no
        placement works or the context cannot fit in memory.
        """
        info = read_model_info(config.model_path)
        route_llama_logs()
        hw = hardware or hw_mod.detect()
        if config.kv_cache_type not in CACHE_TYPES:
            raise ModelLoadError(
                f"Unknown KV cache type {config.kv_cache_type!r}; "
                f"use one of {', '.join(CACHE_TYPES)}"
            )
        n_threads = config.n_threads or hw.physical_cores
        n_threads_batch = config.n_threads_batch or max(hw.logical_cores, n_threads)
        attempts = gpu_attempts(info, hw, config.n_ctx, config.kv_cache_type, config.gpu_layers)
        if attempts[0][0] == 0:
            _check_ram(info, hw, config)
        failures: list[str] = []
        total = offloadable_layers(info)
        for n_gpu, reason in attempts:
            fa = decide_flash_attn(config.flash_attn, n_gpu > 0, config.kv_cache_type)
            req = LoadRequest(
                model_path=str(config.model_path),
                n_gpu_layers=n_gpu,
                n_ctx=config.n_ctx,
                n_batch=min(config.n_batch, config.n_ctx),
                n_threads=n_threads,
                n_threads_batch=n_threads_batch,
                flash_attn=fa[0],
                cache_type=config.kv_cache_type,
            )
            try:
                llm = loader(req)
                _warm_up(llm)
            except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
                where = "CPU" if n_gpu == 0 else f"{n_gpu} GPU layers"
                failures.append(f"{where}: {exc}")
                log.warning("loading %s with %s failed: %s", config.model_path, where, exc)
                continue
            if failures:
                reason = f"fell back after: {'; '.join(failures)}"
            placement = Placement(n_gpu, total, reason)
            log.info("loaded %s on %s", config.model_path.name, placement)
            return cls(llm, info, config, placement, fa, n_threads, n_threads_batch)
        raise ModelLoadError(
            f"llama.cpp could not load {config.model_path.name}: " + "; ".join(failures)
        )

    def close(self) -> None:
        self._llm.close()

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    @property
    def cached_tokens(self) -> int:
        """Tokens currently held in the context (the last prompt + answer)."""
        return self._llm.n_tokens

    def reset(self) -> None:
        """Forget the context's contents: the next prompt is read from scratch."""
        _clear_memory(self._llm)

    # --------------------------------------------------------------- prompting
    def tokenize(self, text: str) -> list[int]:
        """Tokens for a rendered prompt; BOS added only if the model wants it and
        the template did not already write it."""
        add_bos = self._add_bos and not (self._bos_text and text.startswith(self._bos_text))
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def render(self, messages: Sequence[Message], *, thinking: bool) -> str:
        return self.template.render(messages, thinking=thinking)

    # ---------------------------------------------------------------- streaming
    def stream(
        self,
        messages: Sequence[Message],
        *,
        thinking: bool = False,
        sampling: SamplingParams | None = None,
        max_tokens: int = 4096,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Answer the conversation's last user message, yielding events as they happen.

        Stops within one token once `cancel` is set (the final event is then a
        `Done` with finish_reason "cancelled"). Raises `ContextFull` before
        doing any work if the prompt cannot fit.
        """
        timer = _Timer()
        cancel = cancel or threading.Event()
        prompt = self.render(messages, thinking=thinking)
        tokens = self.tokenize(prompt)
        if len(tokens) >= self.n_ctx:
            raise ContextFull(
                f"The conversation needs {len(tokens):,} tokens but the loaded context holds "
                f"{self.n_ctx:,}. Start a new chat or load the model with a larger context."
            )
        params = sampling or preset_for(self.info.architecture, thinking)
        cached = self._reuse_prefix(tokens)
        todo = tokens[cached:]
        llm = self._llm
        prefill_start = time.perf_counter()
        done = 0
        for i in range(0, len(todo), llm.n_batch):
            if cancel.is_set():
                yield self._done(timer, "cancelled", tokens, cached, done, None, [], "", "")
                return
            chunk = todo[i : i + llm.n_batch]
            llm.eval(chunk)
            done += len(chunk)
            yield PrefillProgress(done, len(todo))
        prefill_s = time.perf_counter() - prefill_start

        splitter = ReasoningSplitter(in_reasoning=prompt_opens_reasoning(prompt))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        token_times: list[float] = []
        answer: list[str] = []
        reasoning: list[str] = []
        sampler = Sampler(params, llm.n_vocab())
        finish = "stop"
        try:
            while True:
                if cancel.is_set():
                    finish = "cancelled"
                    break
                token = sampler.sample(llm.ctx)
                token_times.append(timer.elapsed())
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    break
                text = decoder.decode(self._piece_bytes(token))
                yield from _deltas(splitter.feed(text), answer, reasoning)
                if len(token_times) >= max_tokens:
                    finish = "length"
                    break
                if llm.n_tokens + 1 >= self.n_ctx:
                    finish = "context_full"
                    break
                if cancel.is_set():
                    finish = "cancelled"
                    break
                llm.eval([token])
        finally:
            sampler.close()
        yield from _deltas(splitter.feed(decoder.decode(b"", final=True)), answer, reasoning)
        yield from _deltas(splitter.flush(), answer, reasoning)
        yield self._done(
            timer, finish, tokens, cached, done, prefill_s, token_times,
            "".join(answer), "".join(reasoning),
        )  # fmt: skip

    # ----------------------------------------------------------------- helpers
    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the longest cached prefix of `tokens`; return how many are reused.

        At least the last prompt token is always evaluated again so that fresh
        logits exist to sample from. Attention caches can be trimmed at any
        position; recurrent/hybrid ones (Qwen3.5) cannot be rolled back, and
        llama.cpp refuses the trim, so those start over here (the prompt cache
        in prompt_cache.py restores checkpoints instead).
        """
        llm = self._llm
        cached = llm.n_tokens
        common = 0
        limit = min(cached, len(tokens) - 1)
        ids = llm.input_ids
        while common < limit and ids[common] == tokens[common]:
            common += 1
        if common == cached:
            return common
        mem = llama_cpp.llama_get_memory(llm.ctx)
        if common > 0 and llama_cpp.llama_memory_seq_rm(mem, -1, common, -1):
            llm.n_tokens = common
            return common
        _clear_memory(llm)
        return 0

    def _piece_bytes(self, token: int) -> bytes:
        return self._llm.detokenize([token], special=True)

    def _piece(self, token: int) -> str:
        return self._piece_bytes(token).decode("utf-8", errors="replace")

    def _done(
        self,
        timer: _Timer,
        finish: str,
        tokens: list[int],
        cached: int,
        prefilled: int,
        prefill_s: float | None,
        token_times: list[float],
        answer: str,
        reasoning: str,
    ) -> Done:
        n_decode = len(token_times)
        decode_tps = None
        if n_decode > 1 and token_times[-1] > token_times[0]:
            decode_tps = (n_decode - 1) / (token_times[-1] - token_times[0])
        stats = GenerationStats(
            ttft_s=token_times[0] if token_times else None,
            prompt_tokens=len(tokens),
            cached_tokens=cached,
            prefill_tokens=prefilled,
            prefill_tokens_per_s=(prefilled / prefill_s) if prefill_s and prefilled else None,
            decode_tokens=n_decode,
            decode_tokens_per_s=decode_tps,
            n_threads=self.n_threads,
            placement=str(self.placement),
        )
        return Done(stats, finish, answer, reasoning)


def _deltas(
    parts: list[tuple[str, str]], answer: list[str], reasoning: list[str]
) -> Iterator[Event]:
    for kind, text in parts:
        if kind == "reasoning":
            reasoning.append(text)
            yield ReasoningDelta(text)
        else:
            answer.append(text)
            yield AnswerDelta(text)


def _warm_up(llm: llama_cpp.Llama) -> None:
    """Decode one token and clear it: a GPU that is short of memory usually fails
    here rather than in the middle of the user's first answer."""
    bos = llm.token_bos()
    llm.eval([bos if bos >= 0 else 0])
    _clear_memory(llm)


def _clear_memory(llm: llama_cpp.Llama) -> None:
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    llm.n_tokens = 0


def _check_ram(info: ModelInfo, hw: Hardware, config: EngineConfig) -> None:
    """Refuse a CPU context that cannot fit, with numbers, before llama.cpp tries."""
    need = info.cache_bytes(config.n_ctx, config.kv_cache_type) + info.compute_bytes(config.n_ctx)
    if hw.ram_total_bytes and need > hw.ram_available_bytes:  # 0 = memory unknown
        raise ModelLoadError(
            f"Not enough memory for a {config.n_ctx:,}-token context with {info.path.name}: "
            f"its cache needs {need / GiB:.1f} GiB but only {hw.ram_available_bytes / GiB:.1f} GiB "
            "is free. Choose a smaller context or close other programs."
        )
