"""Sampling presets and the llama.cpp sampler chain built from them.

Qwen's model card for Qwen3.5 recommends different settings for thinking and
non-thinking use; llama-cpp-python's defaults (temp 0.8, top_k 40, min_p 0.05)
are generic and make Qwen3.5 ramble or repeat. Models Folio does not know get
llama.cpp's own common defaults.
"""

from __future__ import annotations

import ctypes
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import llama_cpp

from desktop_app.errors import SettingsError


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    presence_penalty: float = 0.0
    repeat_penalty: float = 1.0
    #: How many recent tokens the penalties look at (llama.cpp's default).
    penalty_last_n: int = 64
    seed: int = llama_cpp.LLAMA_DEFAULT_SEED
    #: A GBNF grammar every answer must match (JSON mode of the local API); "" = none.
    grammar: str = ""

    def with_overrides(self, overrides: dict[str, Any] | None) -> SamplingParams:
        """Apply user settings; unknown keys are ignored, values cast to the field's type.

        Raises `SettingsError` naming the setting when a value is not a number or is out
        of its range (a hand-edited settings.json), rather than failing inside llama.cpp.
        """
        if not overrides:
            return self
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in types or value is None or key == "grammar":  # the API's, not a setting
                continue
            low, high = _RANGES.get(key, (None, None))
            try:
                if isinstance(value, bool):
                    raise ValueError
                number = types[key](value)
            except (TypeError, ValueError, OverflowError):
                raise SettingsError(
                    f"The sampling setting {key} must be a number, not {value!r}."
                ) from None
            if (low is not None and number < low) or (high is not None and number > high):
                bounds = f"at least {low}" if high is None else f"between {low} and {high}"
                raise SettingsError(f"The sampling setting {key} must be {bounds}, not {value}.")
            clean[key] = number
        return replace(self, **clean)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Qwen3.5 model card: "thinking mode for general tasks" and "instruct (non-thinking)
#: mode for general tasks". presence_penalty 1.5 is the card's advice against repetition.
QWEN35_THINKING = SamplingParams(
    temperature=1.0, top_k=20, top_p=0.95, min_p=0.0, presence_penalty=1.5
)
QWEN35_INSTRUCT = SamplingParams(
    temperature=0.7, top_k=20, top_p=0.8, min_p=0.0, presence_penalty=1.5
)
GENERIC = SamplingParams()

#: Allowed values of the user-settable fields (None: no bound on that side).
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "temperature": (0.0, 5.0),
    "top_k": (0, None),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "repeat_penalty": (0.0, None),
    "penalty_last_n": (-1, None),
    "seed": (0, 2**32 - 1),
}


def preset_for(architecture: str, thinking: bool) -> SamplingParams:
    if architecture.startswith("qwen35"):
        return QWEN35_THINKING if thinking else QWEN35_INSTRUCT
    return GENERIC


class Sampler:
    """Owns one llama.cpp sampler chain for the length of one answer.

    Built on llama.cpp's C sampler API so that penalties see the answer's own
    history and the random state advances token to token (llama-cpp-python's
    `Llama.sample()` rebuilds a fresh chain on every call).
    """

    def __init__(self, params: SamplingParams, n_vocab: int, vocab: object = None) -> None:
        """`vocab`: the model's llama_vocab pointer, needed only for a grammar."""
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if not chain:
            raise RuntimeError("llama.cpp could not create a sampler chain")
        self._chain = chain

        def add(sampler: llama_cpp.llama_sampler_p) -> None:
            llama_cpp.llama_sampler_chain_add(chain, sampler)

        if params.grammar:
            # First, over every candidate: a grammar after top-k could find none it allows.
            grammar = llama_cpp.llama_sampler_init_grammar(
                vocab, params.grammar.encode("utf-8"), b"root"
            )
            if not grammar:
                self.close()
                raise ValueError("llama.cpp could not parse the grammar")
            add(grammar)

        greedy = params.temperature <= 0.0
        # top-k first: the penalty sampler scans every candidate it is given,
        # and Qwen3.5's vocabulary has ~250K tokens.
        if params.top_k > 0 and not greedy:
            add(llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.presence_penalty or params.repeat_penalty != 1.0:
            add(
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab,
                    params.penalty_last_n,
                    params.repeat_penalty,
                    0.0,
                    params.presence_penalty,
                )
            )
        if greedy:
            add(llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_p < 1.0:
            add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(params.temperature))
        add(llama_cpp.llama_sampler_init_dist(ctypes.c_uint32(params.seed).value))

    def sample(self, ctx: llama_cpp.llama_context_p) -> int:
        """Sample from the last evaluated position's logits (and accept the token)."""
        return int(llama_cpp.llama_sampler_sample(self._chain, ctx, -1))

    def close(self) -> None:
        if self._chain:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None

    def __del__(self) -> None:
        self.close()
