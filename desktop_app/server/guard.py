"""What the API refuses before any route runs and before a byte of the body is read.

The API drives a model on the user's machine, so whoever can make it generate can spend the
machine's CPU, GPU and memory. Browsers are the risk: any web page the user visits can send
a "simple" cross-site POST (`Content-Type: text/plain`, no CORS preflight) to 127.0.0.1, and
a page on a name it rebinds to 127.0.0.1 (DNS rebinding, Ollama's CVE-2024-28224) can even
read the answers. So, in this order:

- the Host must name this machine exactly (`localhost`, `127.0.0.1` or `[::1]`, an optional
  `:port`, nothing else) when bound to loopback: a loose match let `[::1]evil.com` and
  `localhost:1@evil.com` through;
- an `Origin` (every browser sends one cross-site) must be the `--cors-origin` (this server
  serves no pages, so none of its own); a request without one comes from a script or curl,
  which the Host and key checks cover;
- the CORS preflight of that origin is answered here, before the key, which browsers never
  send on a preflight;
- the API key;
- a POST must be JSON (`application/json`): the three content types a page may send without
  a preflight never are;
- the body may be at most `max_request_bytes`: a `Content-Length` over it is a 413 at once,
  and a chunked body is read only up to it. A 100 MB message made the server grow by 10 GB
  and stop answering for a minute.

The body is read here and handed to the app as one message; after it, the app receives from
the connection itself, so client disconnects still reach it. A plain ASGI wrapper, so
streamed responses pass through as they are.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop_app.server.requests import ApiError

if TYPE_CHECKING:
    from desktop_app.server.app import ServerState

#: A Host naming this machine: one of its loopback names and an optional port, nothing more.
_LOCAL_HOST = re.compile(r"(?:localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?", re.ASCII)
#: Headers whose second copy would let one check see another value than the next one.
_SINGLE = frozenset({"host", "origin", "content-type", "content-length", "authorization"})
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type"),
    (b"access-control-max-age", b"600"),
]


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


def host_is_local(host: str) -> bool:
    return _LOCAL_HOST.fullmatch(host.lower()) is not None


def is_json(content_type: str) -> bool:
    """`application/json`, with or without parameters (`; charset=utf-8`)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class Guard:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self._app = app
        self._state = state
        allowed = (state.cors_origin or "").rstrip("/")
        self._allowed_origin = allowed or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        send = self._with_cors(send)
        try:
            headers = _headers(scope)
            self._check_caller(headers)
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await Response(status_code=204)(scope, receive, _adding(_PREFLIGHT_HEADERS, send))
                return
            self._check_key(headers)
            if scope["method"] == "POST":
                body = await self._body(headers, receive)
                if body is None:  # the client left while sending: nobody to answer
                    return
                receive = _replay(body, receive)
        except ApiError as error:
            await error_response(error)(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _check_caller(self, headers: dict[str, str]) -> None:
        if self._state.loopback and not host_is_local(headers.get("host", "")):
            raise ApiError(403, "Requests must address this server as localhost.",
                           type="permission_error")  # fmt: skip
        origin = headers.get("origin")
        if origin is not None and self._allowed_origin not in (origin, "*"):
            raise ApiError(
                403,
                f"Requests from web pages at {origin[:200]} are not allowed "
                "(folio serve --cors-origin ORIGIN allows one origin).",
                type="permission_error",
            )  # fmt: skip

    def _check_key(self, headers: dict[str, str]) -> None:
        key = self._state.api_key
        if key is not None and headers.get("authorization", "") != f"Bearer {key}":
            raise ApiError(401, "Invalid or missing API key.", type="authentication_error",
                           code="invalid_api_key")  # fmt: skip

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The whole body (at most the limit), or None if the client left while sending."""
        if not is_json(headers.get("content-type", "")):
            raise ApiError(415, "The request body must be JSON, sent with "
                           "'Content-Type: application/json'.")  # fmt: skip
        limit = self._state.max_request_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                raise ApiError(400, "The Content-Length header is not a number.")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # chunked, so no Content-Length to refuse it by
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _with_cors(self, send: Send) -> Send:
        """Every response, refusals included, says which origin may read it (if one may)."""
        origin = self._allowed_origin
        if origin is None:
            return send
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"origin")]
        return _adding(cors, send)


def _adding(extra: list[tuple[bytes, bytes]], send: Send) -> Send:
    """`send`, with `extra` headers on the response (CORS, a preflight's answer)."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_with_headers


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in headers and name in _SINGLE:
            raise ApiError(400, f"The {name} header is given more than once.")
        headers[name] = raw_value.decode("latin-1")
    return headers


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than this server's limit of "
                    f"{limit / 1024**2:g} MB.", code="request_too_large")  # fmt: skip


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, as one message; then the connection's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
