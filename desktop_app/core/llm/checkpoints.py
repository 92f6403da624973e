"""Checkpoints of the context state, so follow-up questions never re-read a document.

An attention KV cache can be trimmed back to any position, so for
attention-only models reusing the longest common prefix is enough. A hybrid
model such as Qwen3.5 also carries recurrent (Gated DeltaNet) state that
summarises *all* tokens read so far and cannot be rolled back: once the
answer to question 1 has been generated, the state "after the document" is
gone. Like llama.cpp's server, we copy just that recurrent part
(`LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY`, tens of MB) at chosen positions, and
to go back we restore it and trim the attention KV past the position (the KV
for earlier positions is still in the context, because the tokens there are
the same). Unlike the server, which places checkpoints a micro-batch before
the prompt's end, the engine places them exactly where the next prompt will
diverge: after the document block, before the last prompt token (regenerate),
and after each answer (edit of the next question).
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import llama_cpp

log = logging.getLogger(__name__)

_PARTIAL = llama_cpp.LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY
_SEQ = 0


@dataclass(frozen=True)
class Checkpoint:
    tokens: tuple[int, ...]
    data: bytes

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptCache:
    """Recurrent-state checkpoints in RAM, least recently used evicted first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, ...], Checkpoint] = OrderedDict()

    @property
    def total_bytes(self) -> int:
        return sum(len(c.data) for c in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def save(self, ctx: llama_cpp.llama_context_p, tokens: Sequence[int]) -> Checkpoint | None:
        """Copy the recurrent state now in the context, which has read exactly `tokens`."""
        key = tuple(tokens)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        size = llama_cpp.llama_state_seq_get_size_ext(ctx, _SEQ, _PARTIAL)
        if size <= 0 or size > self.max_bytes:
            return None
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data_ext(ctx, buf, size, _SEQ, _PARTIAL)
        if written != size:
            log.warning("checkpoint at %d tokens: wrote %d of %d bytes", len(key), written, size)
            return None
        checkpoint = Checkpoint(key, bytes(buf))
        self._items[key] = checkpoint
        while self.total_bytes > self.max_bytes:
            self._items.popitem(last=False)
        return checkpoint

    def best(self, prompt: Sequence[int], limit: int) -> Checkpoint | None:
        """The longest checkpoint of at most `limit` tokens that is a prefix of `prompt`."""
        best: Checkpoint | None = None
        for checkpoint in self._items.values():
            n = checkpoint.n_tokens
            if n <= limit and (best is None or n > best.n_tokens):
                if tuple(prompt[:n]) == checkpoint.tokens:
                    best = checkpoint
        if best is not None:
            self._items.move_to_end(best.tokens)
        return best

    @staticmethod
    def restore(ctx: llama_cpp.llama_context_p, checkpoint: Checkpoint) -> bool:
        """Put the checkpoint's recurrent state back and drop attention KV past it.

        The order matters: llama.cpp refuses to trim a recurrent sequence inside
        its current span, so the state goes back first, then the trim finds
        nothing recurrent left to cut.
        """
        data = (ctypes.c_uint8 * len(checkpoint.data)).from_buffer_copy(checkpoint.data)
        read = llama_cpp.llama_state_seq_set_data_ext(
            ctx, data, len(checkpoint.data), _SEQ, _PARTIAL
        )
        if read != len(checkpoint.data):
            return False
        mem = llama_cpp.llama_get_memory(ctx)
        return bool(llama_cpp.llama_memory_seq_rm(mem, _SEQ, checkpoint.n_tokens, -1))

    def clear(self) -> None:
        self._items.clear()
