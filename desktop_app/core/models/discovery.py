"""Find GGUF models already on this computer, so the user need not download one twice.

People who tried local LLMs before usually have models in the Hugging Face cache, LM Studio
or Ollama. Each place has its own layout; this module knows them and reads every candidate's
header with `read_model_info` (fast: header only), so the model picker can show which files
llama.cpp can actually load and, for those it cannot, why.

Scanning must never stop the app: unreadable folders, broken links and bad manifests are
skipped (or listed as unusable where a file exists) instead of raising.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from desktop_app import paths
from desktop_app.core.models import hf_cache
from desktop_app.core.models.gguf_header import read_model_info
from desktop_app.errors import ModelFileError

log = logging.getLogger(__name__)

Source = Literal["folio", "huggingface", "lmstudio", "ollama", "downloads"]

_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_REGISTRY = "registry.ollama.ai"
_OLLAMA_NOTE = (
    "Ollama stores some models in a form this version of llama.cpp cannot load; "
    "download the GGUF file instead."
)


@dataclass(frozen=True)
class Discovered:
    """One model file found on disk, with whether Folio can load it and why not."""

    path: Path  # what the engine should open; a hub cache link keeps its file name
    name: str  # how its tool names it: "org/repo/file.gguf", "qwen3.5:9b", a file name
    architecture: str | None
    size_bytes: int
    quantization: str | None
    source: Source
    usable: bool
    problem: str | None


def discover(home: Path | None = None, env: Mapping[str, str] | None = None) -> list[Discovered]:
    """Every GGUF model in the known places, Folio's own folder first.

    The same file reachable twice (a link, or two caches sharing a blob) is listed once,
    under the first place found, so Folio's copy wins over the same file elsewhere.
    `home` and `env` default to the user's home folder and `os.environ`.
    """
    home = Path.home() if home is None else home
    env = os.environ if env is None else env
    found: list[Discovered] = []
    seen: set[Path] = set()
    for source, name, path, problem in _candidates(home, env):
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # broken link or link loop: no file to offer
            log.debug("skipping unreachable model path %s", path)
            continue
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        found.append(_inspect(source, name, path.absolute(), problem))
    return found


# (source, display name, path, problem known before reading the file)
_Candidate = tuple[Source, str, Path, str | None]


def _candidates(home: Path, env: Mapping[str, str]) -> Iterator[_Candidate]:
    """Every file that may be a model, in priority order."""
    folio = paths.models_dir()
    for path in _glob(folio, "**/*.gguf"):
        yield "folio", path.relative_to(folio).as_posix(), path, None
    yield from _huggingface(hf_cache.hub_cache_dir(env, home))
    for root in (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"):
        for path in _glob(root, "*/*/*.gguf"):
            yield "lmstudio", path.relative_to(root).as_posix(), path, None
    ollama = env.get("OLLAMA_MODELS")
    yield from _ollama(Path(ollama).expanduser() if ollama else home / ".ollama" / "models")
    for path in _glob(home / "Downloads", "*.gguf"):
        yield "downloads", path.name, path, None


def _huggingface(hub: Path) -> Iterator[_Candidate]:
    """`models--org--name/snapshots/<rev>/…/*.gguf`, links into `blobs/` (resolved later)."""
    for repo in _glob(hub, "models--*"):
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        for snapshot in _glob(repo / "snapshots", "*"):
            for path in _glob(snapshot, "**/*.gguf"):
                name = f"{repo_id}/{path.relative_to(snapshot).as_posix()}"
                yield "huggingface", name, path, None


def _ollama(root: Path) -> Iterator[_Candidate]:
    """Model blobs named by `manifests/<host>/<namespace>/<model>/<tag>` JSON files.

    A manifest that cannot be read is listed itself, so the user sees that a model is
    there but broken rather than missing.
    """
    manifests = root / "manifests"
    for manifest in _glob(manifests, "*/*/*/*"):
        if not manifest.is_file():
            continue
        host, namespace, model, tag = manifest.relative_to(manifests).parts
        name = f"{model}:{tag}"
        if namespace != "library":
            name = f"{namespace}/{name}"
        if host != _OLLAMA_REGISTRY:
            name = f"{host}/{name}"
        digest = _ollama_model_digest(manifest)
        if digest is None:
            problem = f"Its Ollama manifest {manifest} names no model file Folio can read."
            yield "ollama", name, manifest, problem
        else:
            yield "ollama", name, root / "blobs" / digest.replace(":", "-", 1), None


def _ollama_model_digest(manifest: Path) -> str | None:
    """The "sha256:<hex>" digest of the manifest's model layer; None if there is none."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for layer in data.get("layers", []):
            if layer.get("mediaType") == _OLLAMA_MODEL_LAYER:
                digest = layer.get("digest")
                if isinstance(digest, str) and digest.startswith("sha256:"):
                    return digest
    except (OSError, ValueError, AttributeError, TypeError):
        log.debug("unreadable Ollama manifest %s", manifest)
    return None


def _inspect(source: Source, name: str, path: Path, problem: str | None) -> Discovered:
    """Read the file's header; a file llama.cpp cannot load is kept with the reason."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if problem is not None:
        return Discovered(path, name, None, size, None, source, usable=False, problem=problem)
    try:
        info = read_model_info(path)
    except ModelFileError as e:
        problem = str(e)
        if source == "ollama":
            problem = f"{problem} {_OLLAMA_NOTE}"
        return Discovered(path, name, None, size, None, source, usable=False, problem=problem)
    return Discovered(
        path, name, info.architecture, size, info.quantization, source, usable=True, problem=None
    )


def _glob(root: Path, pattern: str) -> list[Path]:
    """`root.glob(pattern)`, sorted, or nothing when the folder is missing or unreadable."""
    try:
        return sorted(root.glob(pattern)) if root.is_dir() else []
    except OSError:
        log.debug("cannot scan %s", root)
        return []
