"""Folio's OpenAI-compatible HTTP API (Starlette), a view of the same engine queue.

Every completion is a job on the `EngineQueue` that owns the model: one generation at a
time, in the order requests arrived, never interrupted by the next one (llama-cpp-python's
own server cuts a running stream short when a new request comes). A client that goes
away, streaming or not, cancels its job, and the engine stops within one token: the
openai client retries a timed-out request twice, so an answer nobody waits for would
otherwise run three times.

Errors are always OpenAI's `{"error": {message, type, param, code}}` with a real status.
What web pages and oversized bodies could do is refused before any route runs, in guard.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from desktop_app.core.chat.engine_queue import (
    Cancelled,
    Delta,
    EngineQueue,
    Failed,
    Finished,
    RequestEvent,
    Started,
)
from desktop_app.core.llm.engine import Engine
from desktop_app.server.generation import Completion, Rejected, chat_job
from desktop_app.server.guard import Guard, error_response
from desktop_app.server.requests import DEFAULT_MAX_REQUEST_MB, ApiError, parse_chat

#: Requests waiting or running; more get 503 with Retry-After instead of an unbounded queue.
MAX_PENDING = 16
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
#: How often a non-streaming request checks that its client is still there.
DISCONNECT_POLL_S = 0.1


@dataclass
class ServerState:
    #: The loaded engine, or None while none is (called on the engine thread, in the job:
    #: in the app, the engine a conversation switch may have replaced).
    engine_for: Callable[[], Engine | None]
    queue: EngineQueue
    #: Model ids listed by /v1/models (the first is the loaded file); any id is served.
    models: Callable[[], tuple[str, ...]]
    api_key: str | None = None
    loopback: bool = True
    #: The one web origin whose pages may call the API ("*": any page); None: no page may.
    cors_origin: str | None = None
    #: Larger request bodies are refused (413) before they are read.
    max_request_bytes: int = DEFAULT_MAX_REQUEST_MB * 1024**2
    pending: int = field(default=0)


def create_app(state: ServerState) -> Guard:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [_model(m) for m in state.models()]})

    async def model(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in state.models():
            raise ApiError(404, f"The model '{name}' does not exist.", param="model",
                           code="model_not_found")  # fmt: skip
        return JSONResponse(_model(name))

    async def chat(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except RecursionError:  # json's decoder recurses once per level of nesting
            raise ApiError(400, "The request body is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON.") from None
        chat_request = parse_chat(body)
        if state.pending >= MAX_PENDING:
            raise ApiError(503, "The server is busy; try again shortly.", type="server_error",
                           headers={"Retry-After": "5"})  # fmt: skip
        events: asyncio.Queue[RequestEvent] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def sink(event: RequestEvent) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the loop is closed: the server stopped, nobody waits
                pass

        rid = state.queue.submit(
            lambda cancel: chat_job(state.engine_for(), chat_request, cancel), sink
        )
        state.pending += 1
        reply = _Reply(chat_request.model or state.models()[0])
        streaming = False
        try:
            first = await _next(events, request)
            if first is None:  # the client went away while waiting for its turn
                return Response(status_code=499)
            if isinstance(first, Finished) and isinstance(first.value, Rejected):
                raise first.value.error
            if not chat_request.stream:
                return JSONResponse(await reply.collect(first, events, request))
            streaming = True
        finally:
            if not streaming:  # ended here; cancelling an ended request does nothing
                state.queue.cancel(rid)
                state.pending -= 1

        async def stream() -> AsyncIterator[str]:
            try:
                async for chunk in reply.chunks(first, events, chat_request.include_usage):
                    yield chunk
            finally:  # also when the client disconnects: Starlette cancels this generator
                state.queue.cancel(rid)
                state.pending -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})  # fmt: skip

    async def not_found(request: Request, exc: HTTPException) -> Response:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error_response(ApiError(exc.status_code, f"{request.method} {request.url.path}: "
                                       f"{exc.detail}", type=kind))  # fmt: skip

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    app = Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{name:path}", model, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        exception_handlers={HTTPException: not_found, ApiError: api_error},
    )
    return Guard(app, state)


def model_ids(model_path: Path, name: str | None) -> tuple[str, ...]:
    """The file's stem, and the GGUF's own name as scripts might spell it."""
    names = [model_path.stem]
    if name and (alias := name.lower().replace(" ", "-")) not in names:
        names.append(alias)
    return tuple(names)


def _model(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "folio"}


async def _next(
    events: asyncio.Queue[RequestEvent], request: Request | None
) -> RequestEvent | None:
    """The next event that is not `Started` (None if the client disconnected meanwhile)."""
    while True:
        try:
            event = await asyncio.wait_for(events.get(), DISCONNECT_POLL_S)
        except TimeoutError:
            if request is not None and await request.is_disconnected():
                return None
            continue
        if not isinstance(event, Started):
            return event


class _Reply:
    """Shapes one completion's events into OpenAI's response or stream chunks."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    async def collect(self, first: RequestEvent, events, request: Request) -> dict:
        answer, reasoning, done = [], [], None
        event: RequestEvent | None = first
        while event is not None:
            if isinstance(event, Delta):
                answer.append(event.answer)
                reasoning.append(event.reasoning)
            elif isinstance(event, Failed):
                raise ApiError(500, event.message, type="server_error")
            elif isinstance(event, Finished | Cancelled):
                done = event.value if isinstance(event, Finished) else None
                break
            event = await _next(events, request)
        if not isinstance(done, Completion):
            raise ApiError(499, "The request was cancelled.", type="cancelled")
        message = {"role": "assistant", "content": "".join(answer)}
        if any(reasoning):
            message["reasoning_content"] = "".join(reasoning)
        return {
            **self._head("chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": done.finish_reason}],
            "usage": _usage(done),
        }

    async def chunks(self, first: RequestEvent, events, include_usage: bool) -> AsyncIterator[str]:
        yield self._chunk({"role": "assistant", "content": ""})
        event: RequestEvent | None = first
        while event is not None:
            if isinstance(event, Delta):
                delta = {"content": event.answer} if event.answer else {}
                if event.reasoning:
                    delta["reasoning_content"] = event.reasoning
                if delta:
                    yield self._chunk(delta)
            elif isinstance(event, Failed):
                error = ApiError(500, event.message, type="server_error")
                yield f"data: {json.dumps(error.body)}\n\n"
                return
            elif isinstance(event, Finished) and isinstance(event.value, Completion):
                yield self._chunk({}, event.value.finish_reason)
                if include_usage:
                    yield self._data({**self._head("chat.completion.chunk"), "choices": [],
                                      "usage": _usage(event.value)})  # fmt: skip
                yield "data: [DONE]\n\n"
                return
            elif isinstance(event, Finished | Cancelled):
                return
            event = await _next(events, None)  # Progress: the prompt is still being read

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return self._data({**self._head("chat.completion.chunk"), "choices": [choice]})

    @staticmethod
    def _data(payload: dict) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _usage(done: Completion) -> dict:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}  # fmt: skip
