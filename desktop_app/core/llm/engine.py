"""The in-process llama.cpp engine: render, reuse what is cached, prefill, stream.

One `Engine` owns one `llama_cpp.Llama` (model + context). It is not
thread-safe: in the app exactly one worker thread owns it; the CLI uses it
directly. `generate()` is a generator of events so callers (CLI, Qt worker,
tests) consume answers the same way and can stop between any two tokens or
micro-batches.

We drive prefill and decoding ourselves (`Llama.eval` in micro-batches, the C
sampler chain) instead of `Llama.generate()`, which can only reuse a cache
that the new prompt extends exactly and so re-reads a whole document for
every follow-up on a hybrid model. Here, before a prompt is read, the longest
usable prefix is kept: trimmed KV (attention models), a recurrent-state
checkpoint (hybrid models, checkpoints.py) or a saved state on disk
(saved_states.py); then only the rest is read, with progress and cancel.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import llama_cpp
import numpy as np

from desktop_app.core.hardware import Hardware
from desktop_app.core.llm.chat_template import ChatTemplate, Message
from desktop_app.core.llm.checkpoints import PromptCache
from desktop_app.core.llm.decode_abort import DecodeAbort, was_aborted
from desktop_app.core.llm.events import (
    AnswerDelta,
    Done,
    Event,
    GenerationStats,
    PrefillProgress,
    ReasoningDelta,
)
from desktop_app.core.llm.loading import (
    CACHE_TYPES,
    EngineConfig,
    Loader,
    LoadRequest,
    clear_memory,
    decide_flash_attn,
    llama_loader,
    load_llama,
)
from desktop_app.core.llm.placement import Placement
from desktop_app.core.llm.reasoning import ReasoningSplitter, prompt_opens_reasoning
from desktop_app.core.llm.sampling import Sampler, SamplingParams, preset_for
from desktop_app.core.llm.saved_states import SavedStates, model_identity
from desktop_app.core.models.gguf_header import ModelInfo
from desktop_app.errors import FolioError

__all__ = [
    "CACHE_TYPES", "ContextFull", "Engine", "EngineConfig", "LoadRequest", "decide_flash_attn",
    "llama_loader",
]  # fmt: skip

log = logging.getLogger(__name__)


class ContextFull(FolioError):
    """The prompt does not fit in the loaded context."""


@dataclass
class _Timer:
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class EngineClosed(FolioError):
    """The engine was closed (its model unloaded) and then used."""


class _ClosedLlama:
    """Stands in for a closed `Llama`: every attribute access raises `EngineClosed`."""

    def __getattr__(self, name: str):
        raise EngineClosed(
            "The model was unloaded (a switch or reload did not finish); open the model again "
            "from Settings or the Models dialog."
        )


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
        #: Recurrent-state checkpoints; attention-only models trim their KV instead.
        self.checkpoints = (
            PromptCache(config.checkpoint_ram_bytes) if info.n_recurrent_layers else None
        )
        #: Saved document prefixes on disk; set by the session (None = off).
        self.saved_states: SavedStates | None = None
        self._identity: str | None = None
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._abort = DecodeAbort(llm.ctx)
        bos_id = llm.token_bos()
        eos_id = llm.token_eos()
        self._bos_text = self._piece(bos_id) if bos_id >= 0 else ""
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab)) and bos_id >= 0
        self.template = ChatTemplate(
            info.chat_template,
            bos_token=self._bos_text,
            eos_token=self._piece(eos_id) if eos_id >= 0 else "",
        )

    @classmethod
    def load(
        cls,
        config: EngineConfig,
        *,
        hardware: Hardware | None = None,
        loader: Loader = llama_loader,
    ) -> Engine:
        """Load the model, trying the GPU first and falling back to fewer layers, then CPU."""
        loaded = load_llama(config, hardware, loader)
        return cls(
            loaded.llm, loaded.info, config, loaded.placement, loaded.flash_attn,
            loaded.n_threads, loaded.n_threads_batch,
        )  # fmt: skip

    def close(self) -> None:
        """Free the model and its context. Idempotent; any later use raises `EngineClosed`
        instead of reaching into freed llama.cpp memory."""
        if not self.closed:
            self._llm.close()
            self._llm = _ClosedLlama()

    @property
    def closed(self) -> bool:
        return isinstance(self._llm, _ClosedLlama)

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    @property
    def cached_tokens(self) -> int:
        """Tokens currently held in the context (the last prompt + answer)."""
        return self._llm.n_tokens

    def reset(self) -> None:
        """Forget the context's contents: the next prompt is read from scratch."""
        clear_memory(self._llm)

    # --------------------------------------------------------------- prompting
    def tokenize(self, text: str) -> list[int]:
        """Tokens for a rendered prompt; BOS added only if the model wants it and
        the template did not already write it."""
        add_bos = self._add_bos and not (self._bos_text and text.startswith(self._bos_text))
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        """Tokens of plain text (a document), special-token markup not parsed."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def tokenize_fragment(self, text: str) -> list[int]:
        """Tokens for template text appended to an existing prompt (no BOS)."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

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
        """Render the conversation with the model's template and answer its last message."""
        prompt = self.render(messages, thinking=thinking)
        yield from self.generate(
            self.tokenize(prompt),
            opens_reasoning=prompt_opens_reasoning(prompt),
            sampling=sampling or preset_for(self.info.architecture, thinking),
            max_tokens=max_tokens,
            cancel=cancel,
            checkpoints=(),
        )

    def generate(
        self,
        tokens: Sequence[int],
        *,
        opens_reasoning: bool = False,
        sampling: SamplingParams | None = None,
        max_tokens: int = 4096,
        cancel: threading.Event | None = None,
        checkpoints: Sequence[int] = (),
        persist_prefix: int | None = None,
    ) -> Iterator[Event]:
        """Read `tokens` (reusing what is cached) and stream the answer.

        `checkpoints`: prompt positions where a later prompt may diverge (end
        of the document block, just before the last token for a regenerate);
        the state is kept there, and also after the answer. `persist_prefix`:
        the document block's length, saved to (or loaded from) disk. Stops
        within one micro-batch or token once `cancel` is set. Raises
        `ContextFull` before doing any work if the prompt cannot fit.
        """
        timer = _Timer()
        tokens = list(tokens)
        if len(tokens) >= self.n_ctx:
            raise ContextFull(
                f"The conversation needs {len(tokens):,} tokens but the loaded context holds "
                f"{self.n_ctx:,}. Start a new chat or load the model with a larger context."
            )
        cancel = cancel or threading.Event()
        cached, source = self._reuse(tokens, persist_prefix, need_logits=True)
        start = time.perf_counter()
        yield from self._read(tokens, cached, checkpoints, persist_prefix, cancel)
        if self._llm.n_tokens < len(tokens):  # cancelled while reading
            yield self._done(timer, "cancelled", tokens, cached, source,
                             self._llm.n_tokens - cached, None, [], [], "", "")  # fmt: skip
            return
        yield from self._decode(
            timer, tokens, cached, source, time.perf_counter() - start, opens_reasoning,
            sampling or preset_for(self.info.architecture, opens_reasoning), max_tokens, cancel,
        )  # fmt: skip

    def prefill(
        self,
        tokens: Sequence[int],
        *,
        cancel: threading.Event | None = None,
        persist: bool = False,
    ) -> Iterator[PrefillProgress]:
        """Read `tokens` now, without answering: a document block read while the user
        is still typing. The state at the end is checkpointed (and saved to disk
        with `persist`), so the question that follows reads only itself."""
        tokens = list(tokens)
        if len(tokens) >= self.n_ctx:
            raise ContextFull(f"The documents need {len(tokens):,} tokens; the context holds "
                              f"{self.n_ctx:,}.")  # fmt: skip
        held = self._llm.input_ids[: min(self._llm.n_tokens, len(tokens))]
        if len(held) == len(tokens) and np.array_equal(held, tokens):
            # Read already, and the conversation went on from there (its session reopened:
            # switching back to it). Reading them "again" would roll the context back to
            # them and lose the turns after, which a regenerate then reads again.
            return
        end = len(tokens)
        cached, _ = self._reuse(tokens, end if persist else None, need_logits=False)
        yield from self._read(tokens, cached, [end], end if persist else None,
                              cancel or threading.Event())  # fmt: skip

    def _read(
        self,
        tokens: list[int],
        cached: int,
        checkpoints: Sequence[int],
        persist_prefix: int | None,
        cancel: threading.Event,
    ) -> Iterator[PrefillProgress]:
        """Evaluate tokens[cached:] in micro-batches cut at multiples of n_batch and at
        checkpoint positions (so every path computes the same batches), keeping the
        state at those positions. Returns early, consistent, if `cancel` is set."""
        llm = self._llm
        stops = {p for p in checkpoints if cached < p <= len(tokens)}
        if persist_prefix and cached < persist_prefix <= len(tokens) and self.saved_states:
            stops.add(persist_prefix)
        total = len(tokens) - cached
        start = time.perf_counter()
        pos = cached
        # One watcher for the whole read (not one per micro-batch): Stop aborts the decode
        # in flight, whichever batch it is in.
        with self._abort.watching(cancel):
            while pos < len(tokens):
                if cancel.is_set():
                    return
                end = min([len(tokens), (pos // llm.n_batch + 1) * llm.n_batch,
                           *(p for p in stops if p > pos)])  # fmt: skip
                try:
                    llm.eval(tokens[pos:end])
                except RuntimeError as exc:
                    if not (was_aborted(exc) and cancel.is_set()):
                        raise
                    # Stopped mid-batch: part of it may be in the cache (a recurrent state
                    # even half-updated), so go back to the last state known exact, as a new
                    # prompt diverging at `pos` would.
                    self._roll_back(tokens, pos)
                    return
                pos = end
                if pos in stops:
                    self._keep(tokens[:pos], persist=pos == persist_prefix)
                done = pos - cached
                rate = done / max(time.perf_counter() - start, 1e-9)
                yield PrefillProgress(done, total, rate, (total - done) / rate)

    # ----------------------------------------------------------------- helpers
    def _decode(
        self,
        timer: _Timer,
        tokens: list[int],
        cached: int,
        source: str,
        prefill_s: float,
        opens_reasoning: bool,
        params: SamplingParams,
        max_tokens: int,
        cancel: threading.Event,
    ) -> Iterator[Event]:
        llm = self._llm
        splitter = ReasoningSplitter(in_reasoning=opens_reasoning)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        token_times: list[float] = []
        generated: list[int] = []
        answer: list[str] = []
        reasoning: list[str] = []
        vocab = llama_cpp.llama_model_get_vocab(llm.model) if params.grammar else None
        sampler = Sampler(params, llm.n_vocab(), vocab)
        finish = "stop"
        # One token of a 9B model takes most of a second on a laptop CPU: Stop (a client
        # that went away) aborts it between graph nodes too, as in `_read`.
        try:
            with self._abort.watching(cancel):
                while True:
                    if cancel.is_set():
                        finish = "cancelled"
                        break
                    token = sampler.sample(llm.ctx)
                    token_times.append(timer.elapsed())
                    if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        break
                    generated.append(token)
                    text = decoder.decode(self._piece_bytes(token))
                    yield from _deltas(splitter.feed(text), answer, reasoning)
                    if len(generated) >= max_tokens:
                        finish = "length"
                        break
                    if llm.n_tokens + 1 >= self.n_ctx:
                        finish = "context_full"
                        break
                    if cancel.is_set():
                        finish = "cancelled"
                        break
                    try:
                        llm.eval([token])
                    except RuntimeError as exc:
                        if not (was_aborted(exc) and cancel.is_set()):
                            raise
                        # A recurrent state may be half-updated: back to the last exact one.
                        self._roll_back(llm.input_ids[: llm.n_tokens].tolist(), llm.n_tokens)
                        finish = "cancelled"
                        break
        finally:
            sampler.close()
        if llm.n_tokens > len(tokens):  # the answer is in the context: a new turn starts here
            self._keep(llm.input_ids[: llm.n_tokens].tolist(), persist=False)
        yield from _deltas(splitter.feed(decoder.decode(b"", final=True)), answer, reasoning)
        yield from _deltas(splitter.flush(), answer, reasoning)
        yield self._done(
            timer, finish, tokens, cached, source, len(tokens) - cached, prefill_s, token_times,
            generated, "".join(answer), "".join(reasoning),
        )  # fmt: skip

    def _reuse(
        self, tokens: list[int], persist_prefix: int | None, *, need_logits: bool
    ) -> tuple[int, str]:
        """Make the context hold the longest reusable prefix of `tokens`.

        Returns how many tokens are reused and from where ("none", "ram",
        "disk"). With `need_logits`, at least the last token is read again, so
        that fresh logits exist to sample from.
        """
        llm = self._llm
        limit = len(tokens) - 1 if need_logits else len(tokens)
        held = llm.input_ids[: min(llm.n_tokens, limit)]
        diff = np.flatnonzero(held != np.asarray(tokens[: len(held)], dtype=held.dtype))
        common = int(diff[0]) if diff.size else len(held)
        reused = common if common == llm.n_tokens else self._roll_back(tokens, common)
        source = "ram" if reused else "none"
        store = self.saved_states
        if store and persist_prefix and reused < persist_prefix <= limit:
            prefix = tokens[:persist_prefix]
            key = self._state_key(prefix)
            if store.contains(key):
                if store.load(llm.ctx, key, prefix):
                    llm.input_ids[:persist_prefix] = prefix
                    llm.n_tokens = reused = persist_prefix
                    source = "disk"
                    if self.checkpoints is not None:
                        self.checkpoints.save(llm.ctx, prefix)
                else:  # the store cleared the sequence on its way out
                    clear_memory(llm)
                    reused, source = 0, "none"
        return reused, source

    def _roll_back(self, tokens: list[int], common: int) -> int:
        """The context diverges from `tokens` after `common` tokens: go back as far as needed."""
        llm = self._llm
        reused = 0
        if self.checkpoints is None:
            mem = llama_cpp.llama_get_memory(llm.ctx)
            if common > 0 and llama_cpp.llama_memory_seq_rm(mem, -1, common, -1):
                reused = common
        else:
            checkpoint = self.checkpoints.best(tokens, common)
            if checkpoint is not None and PromptCache.restore(llm.ctx, checkpoint):
                reused = checkpoint.n_tokens
        if reused == 0:
            clear_memory(llm)
        llm.n_tokens = reused
        return reused

    def _keep(self, prefix: list[int], *, persist: bool) -> None:
        """The context holds exactly `prefix`: checkpoint it (RAM) and maybe save it (disk)."""
        if self.checkpoints is not None:
            self.checkpoints.save(self._llm.ctx, prefix)
        if persist and self.saved_states is not None:
            key = self._state_key(prefix)
            if not self.saved_states.contains(key):
                self.saved_states.save(self._llm.ctx, key, prefix)

    def _state_key(self, prefix: Sequence[int]) -> str:
        if self._identity is None:
            self._identity = model_identity(self.info.path)
        params = {
            "n_ctx": self.n_ctx,
            "n_batch": self._llm.n_batch,
            "kv_cache_type": self.config.kv_cache_type,
            "flash_attn": self.flash_attn,
        }
        return SavedStates.key(self._identity, params, prefix)

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
        source: str,
        prefilled: int,
        prefill_s: float | None,
        token_times: list[float],
        generated: list[int],
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
            cache=source,
        )
        return Done(stats, finish, answer, reasoning, tuple(generated))


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
