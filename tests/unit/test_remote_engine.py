"""The remote engine client against a scripted OpenAI-compatible server (no model).

The scripted server answers like the real ones do in the cases a client must handle:
reasoning in `reasoning_content` (llama-server, vLLM) or in `<think>` tags, usage only at
the end, an error event mid-stream, a refused key, a context error, a stream that ends
without a finish reason, and a server still reading the prompt (no byte yet) when the
user presses Stop.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from desktop_app.core.llm.events import AnswerDelta, ReasoningDelta
from desktop_app.core.llm.remote import (
    RemoteContextFull,
    RemoteError,
    RemoteServer,
    _reported_context,
    api_base,
)
from desktop_app.settings import Backend


def _chunk(delta: dict | None = None, finish: str | None = None, **extra) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": choices, **extra}


class Script:
    """What the scripted server sends for /v1/chat/completions, and what it was asked."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.status = 200
        self.error_body: dict = {}
        self.stall = threading.Event()  # set: send headers, then never another byte
        self.done_marker = True
        self.models = [{"id": "qwen3.5-9b", "object": "model", "max_model_len": 32768}]
        self.bodies: list[dict] = []
        self.disconnected = threading.Event()


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None: ...

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": script.models})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.path == "/tokenize" and "content" in body:
                self._send(200, {"tokens": list(range(len(body["content"].split())))})
                return
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            script.bodies.append(body)
            if script.status != 200:
                self._send(script.status, script.error_body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                if script.stall.is_set():
                    self.wfile.flush()
                    # Like a server reading a long prompt: nothing until the client leaves.
                    while self.connection.recv(1):
                        pass
                    script.disconnected.set()
                    return
                for event in script.events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                if script.done_marker:
                    self.wfile.write(b"data: [DONE]\n\n")
            except OSError:
                script.disconnected.set()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield script
    httpd.shutdown()
    httpd.server_close()


def _connected(script: Script, **backend) -> RemoteServer:
    remote = RemoteServer(Backend(script.url, **backend))
    remote.connect()
    return remote


def _run(remote: RemoteServer, **kwargs) -> list:
    messages = [{"role": "user", "content": "What is the rent?"}]
    return list(remote.generate(messages, thinking=False, max_tokens=64, sampling={}, **kwargs))


def test_the_model_context_and_token_counter_are_asked_for(server) -> None:
    remote = _connected(server)
    assert (remote.model, remote.n_ctx, remote.counts_exactly) == ("qwen3.5-9b", 32768, True)
    assert remote.count_tokens("one two three") == 3


def test_reasoning_fields_and_think_tags_are_split_from_the_answer(server) -> None:
    server.events = [
        _chunk({"role": "assistant", "reasoning_content": "The lease says "}),
        _chunk({"reasoning_content": "1,200."}),
        _chunk({"content": "<think>more</th"}),
        _chunk({"content": "ink>The rent is "}),
        _chunk({"content": "1,200 euros [Page 2]."}),
        _chunk({}, finish="length"),
        _chunk(
            usage={
                "prompt_tokens": 900,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 850},
            }
        ),  # fmt: skip
    ]
    events = _run(_connected(server))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    done = events[-1]
    assert reasoning == "The lease says 1,200.more"
    assert answer == done.answer == "The rent is 1,200 euros [Page 2]."
    assert done.finish_reason == "length"
    stats = done.stats
    assert (stats.prompt_tokens, stats.cached_tokens, stats.prefill_tokens) == (900, 850, 50)
    assert (stats.decode_tokens, stats.cache, stats.placement) == (
        7, "server", f"remote ({server.url.removeprefix('http://')})")  # fmt: skip
    assert server.bodies[0]["chat_template_kwargs"] == {"enable_thinking": False}
    assert server.bodies[0]["stream_options"] == {"include_usage": True}


def test_an_error_event_mid_stream_is_an_error_not_a_short_answer(server) -> None:
    server.events = [_chunk({"content": "The rent"}), {"error": {"message": "out of memory"}}]
    with pytest.raises(RemoteError, match="stopped the answer: out of memory"):
        _run(_connected(server))


def test_a_stream_that_ends_without_finishing_is_reported(server) -> None:
    server.events = [_chunk({"content": "The rent"})]
    server.done_marker = False
    with pytest.raises(RemoteError, match="ended the answer without finishing it.*8,192"):
        _run(_connected(server), assumed_context=8192)


def test_a_refused_key_and_a_context_error_are_clear(server) -> None:
    remote = _connected(server, key="wrong")
    server.status, server.error_body = 401, {"error": {"message": "Invalid API key"}}
    with pytest.raises(RemoteError, match=r"refused the API key \(401: Invalid API key\)"):
        _run(remote)
    server.status = 400
    server.error_body = {"error": {"message": "This model's maximum context length is 4096 "
                                   "tokens. However, you requested 9105 tokens"}}  # fmt: skip
    with pytest.raises(RemoteContextFull, match="does not fit the engine server's context"):
        _run(remote)


@pytest.mark.timeout(20)
def test_stop_while_the_server_is_still_reading_frees_it_at_once(server) -> None:
    """No byte arrives while a server reads a long prompt; Stop must not wait for one."""
    server.stall.set()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    events = _run(_connected(server), cancel=cancel)
    assert time.monotonic() - start < 1.5
    assert events[-1].finish_reason == "cancelled"
    assert server.disconnected.wait(2), "the server never learned that the client left"


def test_an_unreachable_server_is_one_clear_line() -> None:
    from tests.support import free_port

    remote = RemoteServer(Backend(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(RemoteError, match=r"Cannot reach the engine server at .*/v1 \(connec"):
        remote.connect()


def test_addresses_and_reported_contexts() -> None:
    assert api_base("http://gpu-box:8080") == "http://gpu-box:8080/v1"
    assert api_base("http://gpu-box:8080/v1/") == "http://gpu-box:8080/v1"
    assert api_base("https://h/openai/v1") == "https://h/openai/v1"
    with pytest.raises(RemoteError, match="http://"):
        api_base("gpu-box:8080")
    assert _reported_context({"max_model_len": 131072}) == 131072  # vLLM, SGLang
    assert _reported_context({"meta": {"n_ctx": 16384}}) == 16384
    assert _reported_context({"id": "x"}) is None
