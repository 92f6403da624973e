"""The in-app API server without a model: it answers 503 while no model is loaded, and a
port that is taken is one clear error."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from desktop_app.core.chat.engine_queue import EngineQueue
from desktop_app.errors import FolioError
from desktop_app.server.app import ServerState
from desktop_app.server.background import BackgroundServer
from tests.support import free_port


@pytest.fixture
def served():
    queue = EngineQueue("folio-engine-test")
    port = free_port()
    server = BackgroundServer(ServerState(lambda: None, queue, lambda: ("demo",)), port)
    server.start()
    yield port
    server.stop()
    assert queue.shutdown(2)


def test_no_model_loaded_is_a_503_with_retry_after(served) -> None:
    reply = httpx.post(f"http://127.0.0.1:{served}/v1/chat/completions",
                       json={"messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert reply.status_code == 503 and reply.headers["retry-after"] == "5"
    assert reply.json()["error"]["message"] == "The model is still loading; try again shortly."
    listed = httpx.get(f"http://127.0.0.1:{served}/v1/models").json()
    assert [m["id"] for m in listed["data"]] == ["demo"]


def test_a_port_in_use_is_one_clear_error(served) -> None:
    queue = EngineQueue("folio-engine-test")
    second = BackgroundServer(ServerState(lambda: None, queue, lambda: ("x",)), served)
    with pytest.raises(FolioError, match=f"could not listen on port {served}"):
        second.start()
    assert queue.shutdown(2)
