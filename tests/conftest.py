"""Shared fixtures: every test runs with a temp FOLIO_HOME and offscreen Qt.

Real-model fixtures are session-scoped: loading a GGUF takes a moment, and
the engine's cache reuse logic is itself under test, so sharing an engine
across tests is realistic rather than a shortcut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# huggingface_hub reads these once, at import: point it away from the real cache and
# login before anything imports it, so no test can read a token or write a real cache.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="folio-test-hf-")
for _name in ("HF_HUB_CACHE", "HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
    os.environ.pop(_name, None)

from tests.fixtures.gguf_factory import smollm2_path, write_tiny_qwen35  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def llama_backends(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load llama.cpp's backend modules once, as the app does before its first model.

    Tests that build a `llama_cpp.Llama` directly need them too. The CPU probe's verdict is
    written under a temp FOLIO_HOME, never the real one.
    """
    try:
        import llama_cpp  # noqa: F401
    except ImportError:  # a checkout without llama-cpp-python: only non-model tests run
        return
    from desktop_app.core.hardware.backends import ensure_loaded

    previous = os.environ.get("FOLIO_HOME")
    os.environ["FOLIO_HOME"] = str(tmp_path_factory.mktemp("backends-home"))
    try:
        ensure_loaded()
    finally:
        if previous is None:
            del os.environ["FOLIO_HOME"]
        else:
            os.environ["FOLIO_HOME"] = previous


@pytest.fixture(autouse=True)
def folio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "folio-home"
    monkeypatch.setenv("FOLIO_HOME", str(home))
    # Folio reads the hub cache location at call time: each test gets an empty one.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return home


@pytest.fixture(autouse=True)
def no_parse_in_the_app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app never parses a document in its own process (the reader child does, with its
    limits): in every test, a parse in the test's process fails the test, unless the test
    opts in with `@pytest.mark.parses_in_process` (tests of the parsers themselves)."""
    if request.node.get_closest_marker("parses_in_process"):
        return
    from desktop_app.core import documents

    def refused(*args, **kwargs):
        raise AssertionError("a document was parsed in the app's process, not in the child")

    monkeypatch.setattr(documents, "parse", refused)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch):
    """`engine(info)`: the OCR engine reports `info` (languages installed, a problem), worded
    as in the bundled app (`how_to_add` names the bundle's tessdata folder)."""
    import sys

    from desktop_app.core.documents import ocr

    monkeypatch.setattr(sys, "frozen", True, raising=False)

    def install(info: ocr.EngineInfo) -> None:
        monkeypatch.setattr(ocr, "engine_info", lambda: info)

    return install


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return smollm2_path()


@pytest.fixture(scope="session")
def tiny_qwen35_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen35(tmp_path_factory.mktemp("models") / "tiny-qwen35.gguf")


def _load(path: Path, n_ctx: int = 2048):
    from desktop_app.core.llm.engine import Engine, EngineConfig

    return Engine.load(EngineConfig(model_path=path, n_ctx=n_ctx))


@pytest.fixture(scope="session")
def smollm2_engine(smollm2_gguf: Path):
    engine = _load(smollm2_gguf)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def qwen35_engine(tiny_qwen35_gguf: Path):
    engine = _load(tiny_qwen35_gguf)
    yield engine
    engine.close()
