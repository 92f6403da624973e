"""Finding models in the Hugging Face cache, LM Studio, Ollama, Folio's folder and Downloads."""

import json
import os
import shutil
from pathlib import Path

import pytest

from desktop_app import paths
from desktop_app.core.models.discovery import Discovered, discover
from tests.fixtures.gguf_factory import smollm2_path, write_tiny_qwen35, write_unknown_arch

HF_REPO = "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
OLLAMA_GGUF = "ab" * 32
OLLAMA_JUNK = "cd" * 32


def _ollama_manifest(root: Path, model: str, tag: str, digest: str | None) -> None:
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / model / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    layers = [{"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:00"}]
    if digest:
        layers.append({"mediaType": "application/vnd.ollama.image.model", "digest": digest})
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))


def _build_ollama(root: Path, tiny: Path) -> None:
    blobs = root / "blobs"
    blobs.mkdir(parents=True)
    shutil.copy(tiny, blobs / f"sha256-{OLLAMA_GGUF}")
    (blobs / f"sha256-{OLLAMA_JUNK}").write_bytes(b"\x00not a gguf at all" * 64)
    _ollama_manifest(root, "tiny", "latest", f"sha256:{OLLAMA_GGUF}")
    _ollama_manifest(root, "qwen3.5", "9b", f"sha256:{OLLAMA_JUNK}")
    _ollama_manifest(root, "gone", "latest", "sha256:" + "ef" * 32)  # blob deleted
    broken = root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")


def _build_hf(hub: Path) -> Path:
    """A hub cache whose snapshot file links into blobs/, plus a dangling link."""
    repo = hub / HF_REPO
    (repo / "blobs").mkdir(parents=True)
    blob = repo / "blobs" / "0123abcd"
    shutil.copy(smollm2_path(), blob)
    snapshot = repo / "snapshots" / "rev1"
    snapshot.mkdir(parents=True)
    (snapshot / "smollm2.Q4_1.gguf").symlink_to(Path("../../blobs/0123abcd"))
    (snapshot / "missing.gguf").symlink_to(Path("../../blobs/deleted"))
    return blob


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    tiny = write_tiny_qwen35(tmp_path_factory.mktemp("src") / "tiny-qwen35.gguf")
    blob = _build_hf(home / ".cache" / "huggingface" / "hub")
    lmstudio = home / ".lmstudio" / "models" / "unsloth" / "Tiny-GGUF"
    lmstudio.mkdir(parents=True)
    shutil.copy(tiny, lmstudio / "tiny-qwen35.gguf")
    old = home / ".cache" / "lm-studio" / "models" / "someone" / "odd-GGUF"
    old.mkdir(parents=True)
    write_unknown_arch(old / "odd.gguf")
    _build_ollama(home / ".ollama" / "models", tiny)
    (home / "Downloads").mkdir()
    (home / "Downloads" / "same-as-hf.gguf").symlink_to(blob)  # listed once, under HF
    shutil.copy(tiny, home / "Downloads" / "mine.gguf")
    return home


def _by_name(found: list[Discovered]) -> dict[str, Discovered]:
    names = [d.name for d in found]
    assert len(names) == len(set(names))
    return {d.name: d for d in found}


def test_finds_models_in_every_known_place(home: Path):
    found = _by_name(discover(home, env={}))
    assert set(found) == {
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2.Q4_1.gguf",
        "unsloth/Tiny-GGUF/tiny-qwen35.gguf",
        "someone/odd-GGUF/odd.gguf",
        "tiny:latest",
        "qwen3.5:9b",
        "broken:latest",
        "mine.gguf",
    }
    hf = found["HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2.Q4_1.gguf"]
    assert hf.source == "huggingface" and hf.usable and hf.problem is None
    assert hf.architecture == "llama" and hf.quantization == "Q4_1"
    # The snapshot link, not the blob: its name is what the user recognises.
    assert hf.path.name == "smollm2.Q4_1.gguf" and hf.path.resolve().name == "0123abcd"
    assert hf.size_bytes == smollm2_path().stat().st_size
    lm = found["unsloth/Tiny-GGUF/tiny-qwen35.gguf"]
    assert (lm.source, lm.architecture, lm.usable) == ("lmstudio", "qwen35", True)
    assert found["mine.gguf"].source == "downloads" and found["mine.gguf"].usable


def test_ollama_models_are_named_by_tag_and_unloadable_ones_say_why(home: Path):
    found = _by_name(discover(home, env={}))
    tiny = found["tiny:latest"]
    assert (tiny.source, tiny.architecture, tiny.usable) == ("ollama", "qwen35", True)
    assert tiny.path.name == f"sha256-{OLLAMA_GGUF}"
    junk = found["qwen3.5:9b"]
    assert junk.source == "ollama" and not junk.usable and junk.architecture is None
    assert "not a GGUF" in junk.problem and "Ollama" in junk.problem
    broken = found["broken:latest"]
    assert not broken.usable and "manifest" in broken.problem


def test_unknown_architecture_is_listed_as_unusable(home: Path):
    odd = _by_name(discover(home, env={}))["someone/odd-GGUF/odd.gguf"]
    assert odd.source == "lmstudio" and not odd.usable
    assert "notarealarch" in odd.problem and "not supported" in odd.problem


def test_folio_models_come_first(home: Path):
    write_tiny_qwen35(paths.models_dir() / "own.gguf")
    found = discover(home, env={})
    assert (found[0].name, found[0].source, found[0].usable) == ("own.gguf", "folio", True)


def _hub_with_one_model(hub: Path, repo: str) -> None:
    snapshot = hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "r"
    snapshot.mkdir(parents=True)
    write_tiny_qwen35(snapshot / "m.gguf")


def test_environment_overrides_are_honoured(tmp_path: Path):
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    _hub_with_one_model(tmp_path / "hf-home" / "hub", "a/from-hf-home")
    _hub_with_one_model(tmp_path / "hub-cache", "b/from-hub-cache")
    tiny = write_tiny_qwen35(tmp_path / "t.gguf")
    _build_ollama(tmp_path / "ollama", tiny)

    env = {"HF_HOME": str(tmp_path / "hf-home"), "OLLAMA_MODELS": str(tmp_path / "ollama")}
    names = {d.name for d in discover(empty_home, env=env)}
    assert "a/from-hf-home/m.gguf" in names and "tiny:latest" in names

    env["HF_HUB_CACHE"] = str(tmp_path / "hub-cache")  # wins over HF_HOME
    names = {d.name for d in discover(empty_home, env=env)}
    assert "b/from-hub-cache/m.gguf" in names and "a/from-hf-home/m.gguf" not in names


def test_empty_or_unreadable_places_find_nothing(tmp_path: Path):
    assert discover(tmp_path, env={}) == []
    locked = tmp_path / ".lmstudio" / "models"
    locked.mkdir(parents=True)
    os.chmod(locked, 0)
    try:
        assert discover(tmp_path, env={"HF_HUB_CACHE": str(tmp_path / "nope")}) == []
    finally:
        os.chmod(locked, 0o755)
