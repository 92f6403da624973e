"""Count tokens with a model's tokenizer without loading its weights.

The context must be sized before the model is loaded (llama.cpp allocates the
whole cache up front), and sizing needs the documents' token counts. Loading
only the vocabulary takes a fraction of a second even for a 9B model.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import llama_cpp

from desktop_app.core.hardware.backends import ensure_loaded
from desktop_app.core.llm.llama_log import route_llama_logs
from desktop_app.errors import ModelLoadError


class VocabOnly:
    """A model's tokenizer alone; use as a context manager."""

    def __init__(self, model_path: Path) -> None:
        route_llama_logs()
        ensure_loaded()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self._model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), params)
        if not self._model:
            raise ModelLoadError(f"llama.cpp could not read the tokenizer of {model_path.name}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)

    def count(self, text: str) -> int:
        """Tokens of plain text (special-token markup is not parsed)."""
        data = text.encode("utf-8")
        # With no output buffer llama_tokenize returns minus the number needed.
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), None, 0, False, False)
        return -n if n < 0 else n

    def close(self) -> None:
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> VocabOnly:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
