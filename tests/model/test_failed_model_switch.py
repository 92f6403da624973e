"""A model switch or reload that fails leaves no session answering from freed memory."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.chat import session as session_mod
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.documents.library import Resolved
from desktop_app.core.llm.engine import EngineClosed
from desktop_app.errors import FolioError, ModelFileError, ModelLoadError
from desktop_app.settings import Settings

pytestmark = pytest.mark.model


def _answer(host: SessionHost) -> str:
    events = list(host.ask("Say yes.", False, threading.Event()))
    return events[-1].answer


def test_a_closed_engine_raises_instead_of_touching_freed_memory(smollm2_gguf: Path):
    host = SessionHost(smollm2_gguf, Settings(max_answer_tokens=4))
    host.open(Resolved(), [])
    engine = host.session.engine
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(EngineClosed, match="unloaded"):
        engine.count_tokens("hello")
    with pytest.raises(EngineClosed):
        _answer(host)


def test_switching_to_a_broken_model_fails_cleanly(smollm2_gguf: Path, tmp_path: Path):
    host = SessionHost(smollm2_gguf, Settings(max_answer_tokens=4))
    host.open(Resolved(), [])
    assert _answer(host)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00\x01")
    host.reconfigure(broken, host.settings)
    with pytest.raises(ModelFileError):
        host.open(Resolved(), [])
    with pytest.raises(FolioError, match="The model is not ready .*broken.gguf"):
        _answer(host)
    host.reconfigure(smollm2_gguf, host.settings)  # back to a good model: it answers again
    host.open(Resolved(), [])
    assert _answer(host)
    host.close()


def test_a_reload_that_fails_leaves_no_session(smollm2_gguf: Path, monkeypatch):
    host = SessionHost(smollm2_gguf, Settings(max_answer_tokens=4))
    host.open(Resolved(), [])
    old = host.session.engine

    def fail(config, hardware=None):
        raise ModelLoadError("llama.cpp could not load it: out of memory")

    monkeypatch.setattr(session_mod.Engine, "load", staticmethod(fail))
    host.reconfigure(smollm2_gguf, replace(host.settings, kv_cache_type="q8_0"))  # a reload
    with pytest.raises(ModelLoadError):
        host.open(Resolved(), [])
    assert old.closed and host.session is None
    with pytest.raises(FolioError, match="out of memory"):
        _answer(host)
    host.close()
