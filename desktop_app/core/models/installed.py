"""The models a person has, as one list: the demo model, a GGUF opened by its path, and the
GGUFs found on disk — for the model picker at the top of the chat and the Models dialog.

Discovery (discovery.py) only looks in the places other tools keep models (Hugging Face
cache, LM Studio, Ollama, Downloads). The demo model lives inside a Python package and a file
the user opened can be anywhere, so with discovery alone the Models dialog said "No models
found" while one of those was answering.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.models.discovery import Discovered
from desktop_app.core.models.gguf_header import read_model_info
from desktop_app.core.models.locator import DEMO_MODEL_LABEL
from desktop_app.errors import ModelFileError

#: Where a model was found, as the lists say it.
WHERE = {
    "demo": "ships with Folio",
    "opened": "opened from a file",
    "folio": "Folio's models folder",
    "huggingface": "Hugging Face cache",
    "lmstudio": "LM Studio",
    "ollama": "Ollama",
    "downloads": "Downloads folder",
}


@dataclass(frozen=True)
class InstalledModel:
    """One model file Folio could switch to; an unusable one keeps the reason."""

    path: Path
    name: str
    architecture: str | None
    quantization: str | None
    size_bytes: int
    where: str  # a key of WHERE
    usable: bool
    problem: str | None

    @property
    def demo(self) -> bool:
        return self.where == "demo"


def installed_models(
    discovered: Sequence[Discovered], *, demo: Path | None, opened: Iterable[Path | None] = ()
) -> list[InstalledModel]:
    """The demo model, then the `opened` files (the model in use, the configured one) that
    discovery did not find, then what discovery found; each file once."""
    found = [_from_discovered(d) for d in discovered]
    extra: list[InstalledModel] = []
    if demo is not None:
        extra.append(_inspect(demo, DEMO_MODEL_LABEL, "demo"))
    for path in opened:
        if path is not None and str(path) and path.is_file():
            extra.append(_inspect(path, path.name, "opened"))
    listed: list[InstalledModel] = []
    for model in extra + found:
        if not any(same_file(model.path, kept.path) for kept in listed):
            listed.append(model)
    return listed


def same_file(a: Path | None, b: Path | None) -> bool:
    """Whether two paths name one file (a hub cache link and its blob, `~`, `..`)."""
    if a is None or b is None or not str(a) or not str(b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is gone: only the same spelling is the same file
        return Path(a).expanduser().absolute() == Path(b).expanduser().absolute()


def _from_discovered(d: Discovered) -> InstalledModel:
    return InstalledModel(d.path, d.name, d.architecture, d.quantization, d.size_bytes,
                          d.source, d.usable, d.problem)  # fmt: skip


def _inspect(path: Path, name: str, where: str) -> InstalledModel:
    """Header only (fast); a file llama.cpp cannot load is listed with the reason."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        info = read_model_info(path)
    except ModelFileError as exc:
        return InstalledModel(path, name, None, None, size, where, False, str(exc))
    return InstalledModel(path, name, info.architecture, info.quantization, size, where,
                          True, None)  # fmt: skip
