"""What the API refuses before any route runs and before the body is read (server/guard.py):
pages of other web sites, loose Host names, bodies that are not JSON or too large; and
malformed requests, which are all a 400 in OpenAI's shape, never a 500."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from desktop_app.core.chat.engine_queue import EngineQueue
from desktop_app.server.app import ServerState, create_app
from desktop_app.server.background import BackgroundServer
from desktop_app.server.guard import Guard
from tests.support import free_port

CHAT = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
HOST = ("host", "127.0.0.1:8765")
JSON = ("content-type", "application/json")
PAGE = "http://localhost:3000"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Body bytes the server pulled from the connection.
    read: int

    def error(self) -> dict:
        return json.loads(self.body)["error"]


async def _echo(scope, receive, send) -> None:
    """The app behind the guard: answers 200 with the body's size, once it has it all."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps({"size": size}).encode()})


def _call(app, *headers: tuple[str, str], method: str = "POST",
          chunks: tuple[bytes, ...] = (CHAT,)) -> Reply:  # fmt: skip
    """One request straight through the ASGI app, counting what it reads of the body."""
    path = "/v1/chat/completions"
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 50000),
             "headers": [(k.encode(), v.encode()) for k, v in headers]}  # fmt: skip
    pending = list(chunks)
    read = 0
    start: dict = {}
    body: list[bytes] = []

    async def receive() -> dict:
        nonlocal read
        if not pending:
            await asyncio.sleep(3600)  # the client waits for its answer
        chunk = pending.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            body.append(message.get("body", b""))

    asyncio.run(app(scope, receive, send))
    headers_out = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return Reply(start["status"], headers_out, b"".join(body), read)


@pytest.fixture
def queue() -> Iterator[EngineQueue]:
    queue = EngineQueue("folio-engine-test")
    yield queue
    assert queue.shutdown(2)


def _state(queue: EngineQueue, **kw) -> ServerState:
    return ServerState(lambda: None, queue, lambda: ("demo",), **kw)


def test_a_cross_site_text_plain_post_is_refused_unread(queue) -> None:
    # What any web page can send without a CORS preflight.
    origin, plain = ("origin", "http://evil.example"), ("content-type", "text/plain")
    reply = _call(create_app(_state(queue)), HOST, origin, plain)
    assert reply.status == 403 and reply.read == 0
    assert reply.error() == {
        "message": "Requests from web pages at http://evil.example are not allowed "
        "(folio serve --cors-origin ORIGIN allows one origin).",
        "type": "permission_error", "param": None, "code": None,
    }  # fmt: skip
    assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:3001"])
def test_only_the_cors_origin_may_call_from_a_page(queue, origin: str) -> None:
    guard = Guard(_echo, _state(queue, cors_origin=PAGE))
    reply = _call(guard, HOST, JSON, ("origin", origin))
    assert reply.status == 403 and reply.read == 0
    assert reply.error()["type"] == "permission_error"
    allowed = _call(guard, HOST, JSON, ("origin", PAGE))
    assert allowed.status == 200 and allowed.headers["access-control-allow-origin"] == PAGE


def test_a_star_cors_origin_lets_every_page_call(queue) -> None:
    reply = _call(Guard(_echo, _state(queue, cors_origin="*")), HOST, JSON, ("origin", PAGE))
    assert reply.status == 200 and reply.headers["access-control-allow-origin"] == "*"


def test_the_cors_origin_gets_its_preflight_and_can_read_errors(queue) -> None:
    # As a browser app at PAGE does it: the preflight carries no key; the POST does.
    guard = Guard(_echo, _state(queue, cors_origin=PAGE + "/", api_key="k"))
    preflight = _call(guard, HOST, ("origin", PAGE), ("access-control-request-method", "POST"),
                      ("access-control-request-headers", "authorization,content-type"),
                      method="OPTIONS", chunks=())  # fmt: skip
    assert preflight.status == 204 and preflight.body == b""
    assert {k: v for k, v in preflight.headers.items() if k.startswith("access-control")} == {
        "access-control-allow-origin": PAGE,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
    }
    keyed = _call(guard, HOST, JSON, ("origin", PAGE), ("authorization", "Bearer k"))
    assert keyed.status == 200 and keyed.headers["access-control-allow-origin"] == PAGE
    keyless = _call(guard, HOST, JSON, ("origin", PAGE))
    assert keyless.status == 401 and keyless.headers["access-control-allow-origin"] == PAGE
    assert keyless.error()["code"] == "invalid_api_key"
    asks = ("access-control-request-method", "POST")
    other = _call(guard, HOST, ("origin", "http://evil.example"), asks, method="OPTIONS", chunks=())
    assert other.status == 403


@pytest.mark.parametrize(
    "host",
    ["[::1]evil.com", "localhost:1@evil.com", "localhost.evil.com", "127.0.0.1.nip.io",
     "localhost:8765:80", "localhost:", "localhost:8x", "evil.com", "", "::1", "127.0.0.1 "],
)  # fmt: skip
def test_a_host_that_is_not_exactly_this_machine_is_refused(queue, host: str) -> None:
    reply = _call(Guard(_echo, _state(queue)), ("host", host), JSON)
    assert reply.status == 403 and reply.read == 0
    assert reply.error()["message"] == "Requests must address this server as localhost."


@pytest.mark.parametrize("host", ["localhost", "LocalHost:8765", "127.0.0.1:1", "[::1]:8765"])
def test_this_machine_by_any_of_its_names_is_served(queue, host: str) -> None:
    reply = _call(Guard(_echo, _state(queue)), ("host", host), JSON)
    assert (reply.status, json.loads(reply.body)) == (200, {"size": len(CHAT)})


def test_a_second_host_header_is_refused(queue) -> None:
    reply = _call(Guard(_echo, _state(queue)), HOST, ("host", "evil.com"), JSON)
    assert reply.status == 400 and reply.read == 0
    assert reply.error()["message"] == "The host header is given more than once."


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])  # fmt: skip
def test_a_post_that_is_not_json_is_refused_unread(queue, content_type: str | None) -> None:
    guard = Guard(_echo, _state(queue))
    reply = _call(guard, HOST, *([("content-type", content_type)] if content_type else []))
    assert reply.status == 415 and reply.read == 0
    assert reply.error()["message"] == (
        "The request body must be JSON, sent with 'Content-Type: application/json'."
    )
    assert _call(guard, HOST, ("content-type", "Application/JSON; charset=utf-8")).status == 200


def test_a_body_over_the_limit_is_a_413_before_it_is_read(queue) -> None:
    guard = Guard(_echo, _state(queue, max_request_bytes=1000))
    declared = _call(guard, HOST, JSON, ("content-length", "1001"), chunks=(b"x" * 1001,))
    assert declared.status == 413 and declared.read == 0
    assert declared.error() == {
        "message": "The request body is larger than this server's limit of 0.000953674 MB.",
        "type": "invalid_request_error", "param": None, "code": "request_too_large",
    }  # fmt: skip
    # Chunked, with no length to go by: read up to the limit, not to the end.
    chunked = _call(guard, HOST, JSON, chunks=(b"x" * 600,) * 100)
    assert chunked.status == 413 and chunked.read == 1200
    exactly = _call(guard, HOST, JSON, ("content-length", "1000"), chunks=(b"x" * 500,) * 2)
    assert (exactly.status, json.loads(exactly.body)) == (200, {"size": 1000})
    bad = _call(guard, HOST, JSON, ("content-length", "1e3"))
    assert bad.status == 400 and bad.error()["message"] == (
        "The Content-Length header is not a number."
    )


def test_a_100_mb_body_leaves_memory_alone_and_the_server_free(queue) -> None:
    """Over a real socket to uvicorn: refused at its headers while the rest is still on its way;
    the server's Python memory does not grow by the body, and the next client is answered."""
    port = free_port()
    server = BackgroundServer(_state(queue), port)
    server.start()
    size, piece = 100 * 1024**2, b"x" * 1024**2
    tracemalloc.start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % size)  # fmt: skip
            sock.settimeout(10)
            sender = threading.Thread(target=_send_quietly, args=(sock, piece, size // len(piece)))
            sender.start()
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
            began = time.monotonic()
            models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
            waited = time.monotonic() - began
            sender.join(30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        server.stop()
    assert status_line.split()[:2] == [b"HTTP/1.1", b"413"]
    assert models.status_code == 200 and waited < 1
    assert peak < 20 * 1024**2  # the 1 MB piece being sent, and little else


def _send_quietly(sock: socket.socket, piece: bytes, times: int) -> None:
    """Send the body as a client that ignores the early answer does, until the server stops it."""
    try:
        for _ in range(times):
            sock.sendall(piece)
    except OSError:
        pass


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "The request body is nested too deeply.", None),
        (b'{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": '
         b'"json_schema", "json_schema": {"schema": ' + b'{"items": ' * 2000 + b"{}"
         + b"}" * 2000 + b"}}}", "The request body is nested too deeply.", None),
        (json.dumps({"messages": [{"role": "user", "content": "x"}],
                     "chat_template_kwargs": ["enable_thinking"]}).encode(),
         "'chat_template_kwargs' must be an object.", "chat_template_kwargs"),
        (b"\xff", "The request body is not valid JSON.", None),
    ],
)  # fmt: skip
def test_a_malformed_request_is_a_400_in_openai_shape(queue, body, message, param) -> None:
    reply = _call(create_app(_state(queue)), HOST, JSON, chunks=(body,))
    assert reply.status == 400 and reply.headers["content-type"] == "application/json"
    assert reply.error() == {"message": message, "type": "invalid_request_error",
                             "param": param, "code": None}  # fmt: skip
