"""Split a streamed answer into reasoning (`<think>…</think>`) and visible answer.

Reasoning models emit their thinking between `<think>` and `</think>`. Qwen3.5's
template already opens `<think>` at the end of the prompt when thinking is on,
so the stream may start *inside* a reasoning block without ever showing the
opening tag. Tags can also be split across streamed pieces ("</th" + "ink>"),
so a possible tag prefix at the end of a piece is held back until the next
piece decides it.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["reasoning", "answer"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def prompt_opens_reasoning(prompt: str) -> bool:
    """True when the rendered prompt ends inside an unclosed `<think>` block."""
    return prompt.rfind(OPEN_TAG) > prompt.rfind(CLOSE_TAG)


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ReasoningSplitter:
    """Stateful splitter: feed text pieces, get (kind, text) deltas back."""

    def __init__(self, in_reasoning: bool = False) -> None:
        self._in_reasoning = in_reasoning
        self._pending = ""
        # Whitespace right after a tag is formatting, not content.
        self._strip_next = in_reasoning

    def feed(self, piece: str) -> list[tuple[Kind, str]]:
        text = self._pending + piece
        self._pending = ""
        out: list[tuple[Kind, str]] = []
        while text:
            tag = CLOSE_TAG if self._in_reasoning else OPEN_TAG
            idx = text.find(tag)
            if idx >= 0:
                self._emit(out, text[:idx])
                text = text[idx + len(tag) :]
                self._in_reasoning = not self._in_reasoning
                self._strip_next = True
                continue
            keep = _partial_tag_suffix(text, tag)
            self._emit(out, text[: len(text) - keep])
            self._pending = text[len(text) - keep :]
            break
        return out

    def flush(self) -> list[tuple[Kind, str]]:
        """Emit whatever was held back (the stream has ended)."""
        out: list[tuple[Kind, str]] = []
        self._emit(out, self._pending)
        self._pending = ""
        return out

    def _emit(self, out: list[tuple[Kind, str]], text: str) -> None:
        if self._strip_next:
            text = text.lstrip("\n")
            if not text:
                return
            self._strip_next = False
        if not text:
            return
        kind: Kind = "reasoning" if self._in_reasoning else "answer"
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
