"""A remote OpenAI-compatible server as Folio's engine: llama.cpp's `llama-server`, vLLM,
SGLang, Ollama, llama-cpp-python's server, or another Folio (`folio serve`).

For documents that outgrow a laptop, the model runs on a workstation or a cluster and
Folio keeps everything else: the documents, the plan, the conversation, citations and the
history. `RemoteServer.generate` yields the same events as the in-process `Engine`
(reasoning and answer deltas, then `Done`), so the controller, the window and the CLI do
not know the difference.

What the protocol does not say, the server is asked in the ways the common servers
answer: the context length from `/v1/models` (vLLM and SGLang's `max_model_len`) or
llama-server's `/props`, and token counts from `/tokenize` (llama-server, vLLM) or
`/extras/tokenize/count` (llama-cpp-python). A server that answers neither is planned
with a conservative estimate, and says so.

Stop must free the server too: closing the connection is how every one of these servers
learns that nobody waits for the answer. A watcher shuts the socket down when the cancel
event is set, so Stop works even while the server is still reading a long document and no
byte has arrived yet.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2

from desktop_app.core.llm.events import AnswerDelta, Done, Event, GenerationStats, ReasoningDelta
from desktop_app.core.llm.reasoning import ReasoningSplitter
from desktop_app.errors import FolioError
from desktop_app.settings import Backend

#: Characters per token assumed when the server cannot count: low, so that a plan made
#: from it errs towards "does not fit" (English text runs about 4 per token).
CHARS_PER_TOKEN = 3.0
_TIMEOUT = httpx2.Timeout(connect=10.0, read=900.0, write=60.0, pool=10.0)


class RemoteError(FolioError):
    """The remote engine cannot be used: unreachable, the key refused, or a bad answer."""


class RemoteContextFull(RemoteError):
    """The server says the prompt does not fit its context."""


def api_base(url: str) -> str:
    """`http://host:port` → `http://host:port/v1`; a URL with a path is used as given."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RemoteError(f"The engine server's address must start with http:// or https:// "
                          f"(got {url!r}).")  # fmt: skip
    return url if parts.path else url + "/v1"


class RemoteServer:
    """One remote server: what it serves, its context length, and its answers."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.base = api_base(backend.url)
        #: The server's root, where llama-server and vLLM keep `/props` and `/tokenize`.
        self._root = self.base.removesuffix("/v1")
        headers = {"Authorization": f"Bearer {backend.key}"} if backend.key else {}
        self._http = httpx2.Client(headers=headers, timeout=_TIMEOUT)
        self.model = ""
        #: The context length the server reported, None when it reports none.
        self.n_ctx: int | None = None
        #: How tokens are counted: a (path, body key) that worked, or None = estimated.
        self._counter: tuple[str, str] | None = None
        self.counts_exactly = False

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    def connect(self) -> None:
        """Ask the server what it serves; a clear `RemoteError` if it cannot be used."""
        listed = self._json("GET", f"{self.base}/models").get("data") or []
        ids = [m.get("id") for m in listed if isinstance(m, dict) and m.get("id")]
        wanted = self.backend.model
        if wanted is None and not ids:
            raise RemoteError(f"The engine server at {self.host} lists no model; name one "
                              "with --backend-model (or in Settings).")  # fmt: skip
        self.model = wanted or ids[0]
        entry = next((m for m in listed if isinstance(m, dict) and m.get("id") == self.model), {})
        self.n_ctx = _reported_context(entry) or self._props_context()
        self._counter = self._find_counter()
        self.counts_exactly = self._counter is not None

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the server's tokenizer; a conservative estimate without one."""
        if self._counter is None:
            return estimate_tokens(text)
        path, key = self._counter
        return _count_from(self._json("POST", path, {key: text, "model": self.model}))

    def generate(
        self,
        messages: Sequence[dict[str, str]],
        *,
        thinking: bool,
        max_tokens: int,
        sampling: dict[str, float],
        cancel: threading.Event | None = None,
        continue_last: bool = False,
        assumed_context: int = 0,
    ) -> Iterator[Event]:
        """Stream one answer as engine events; `continue_last`: the last message is the
        assistant's answer so far, to be continued rather than answered; `assumed_context`:
        the context the plan used, named when the server fails without saying why."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
            "chat_template_kwargs": {"enable_thinking": thinking},
            **sampling,
        }
        if continue_last:  # vLLM and SGLang need asking; llama-server and Ollama do it anyway
            body |= {"continue_final_message": True, "add_generation_prompt": False}
        cancel = cancel or threading.Event()
        stream = _Stream(self.host, max_tokens)
        started = time.monotonic()
        try:
            with self._http.stream("POST", f"{self.base}/chat/completions", json=body) as resp:
                self._check(resp)
                with _ShutdownOnCancel(resp, cancel):
                    for data in _sse_data(resp):
                        yield from stream.feed(data)
        except httpx2.TransportError as exc:
            if not cancel.is_set():
                raise self._unreachable(exc) from exc
        if not (cancel.is_set() or stream.finished):
            raise RemoteError(
                f"The engine server at {self.host} ended the answer without finishing it; "
                "its log says why. Servers that cannot report an error mid-answer do this "
                "when the prompt is longer than their context: Folio assumed "
                f"{assumed_context:,} tokens, so set the server's real context length "
                "(--ctx, or Settings → Context & speed)."
            )
        yield from stream.flush()
        yield stream.done(time.monotonic() - started, cancelled=cancel.is_set())

    def close(self) -> None:
        self._http.close()

    def _props_context(self) -> int | None:
        try:
            props = self._json("GET", f"{self._root}/props")
        except RemoteError:
            return None  # not llama-server
        settings = props.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") or props.get("n_ctx")
        return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None

    def _find_counter(self) -> tuple[str, str] | None:
        for path, key in (
            (f"{self._root}/tokenize", "content"),  # llama-server
            (f"{self._root}/tokenize", "prompt"),  # vLLM, SGLang
            (f"{self._root}/extras/tokenize/count", "input"),
        ):  # llama-cpp-python
            try:
                if _count_from(self._json("POST", path, {key: "Hello world", "model": self.model})):
                    return path, key
            except RemoteError:
                continue
        return None

    def _json(self, method: str, url: str, body: dict | None = None) -> dict:
        try:
            resp = self._http.request(method, url, json=body, timeout=30.0)
        except httpx2.TransportError as exc:
            raise self._unreachable(exc) from exc
        self._check(resp)
        try:
            data = resp.json()
        except ValueError as exc:
            raise RemoteError(f"The engine server at {self.host} did not answer with JSON "
                              f"at {urlsplit(url).path}.") from exc  # fmt: skip
        if not isinstance(data, dict):
            raise RemoteError(f"The engine server at {self.host} answered {url} oddly.")
        return data

    def _check(self, resp: httpx2.Response) -> None:
        if resp.status_code < 400:
            return
        resp.read()  # a streamed error's body
        message = _error_message(resp)
        if resp.status_code in (401, 403):
            raise RemoteError(f"The engine server at {self.host} refused the API key "
                              f"({resp.status_code}: {message}). Check --backend-key, or the "
                              "key in Settings → Model.")  # fmt: skip
        if _is_context_error(resp.status_code, message):
            raise RemoteContextFull(
                f"This does not fit the engine server's context ({message}). Ask with fewer "
                "documents, or set the server's context length (Settings → Model, or --ctx) "
                "so Folio answers from passages."
            )
        raise RemoteError(f"The engine server at {self.host} answered {resp.status_code}: "
                          f"{message}")  # fmt: skip

    def _unreachable(self, exc: Exception) -> RemoteError:
        return RemoteError(f"Cannot reach the engine server at {self.base} ({_reason(exc)}). "
                           "Is it running, and is the address right?")  # fmt: skip


class _Stream:
    """Turns the server's chunks into events: reasoning (a `reasoning_content` field, or
    `<think>` tags in the text for servers that do not split it), answer, and the end."""

    def __init__(self, placement_host: str, max_tokens: int) -> None:
        self._host = placement_host
        self._max_tokens = max_tokens
        self._splitter = ReasoningSplitter()
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._first: float | None = None
        self._start = time.monotonic()
        self._pieces = 0
        self._finish = "stop"
        self._usage: dict = {}
        self._timings: dict = {}
        #: A finish reason arrived: the answer ended, not the connection.
        self.finished = False

    def feed(self, data: dict) -> Iterator[Event]:
        if "error" in data:
            raise RemoteError(f"The engine server at {self._host} stopped the answer: "
                              f"{_message_of(data['error'])}")  # fmt: skip
        self._usage = data.get("usage") or self._usage
        self._timings = data.get("timings") or self._timings
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thought, str) and thought:
                yield from self._emit([("reasoning", thought)])
            if isinstance(text := delta.get("content"), str) and text:
                yield from self._emit(self._splitter.feed(text))
            if choice.get("finish_reason"):
                self.finished = True
                self._finish = "length" if choice["finish_reason"] == "length" else "stop"

    def _emit(self, parts: list[tuple[str, str]]) -> Iterator[Event]:
        for kind, text in parts:
            if self._first is None:
                self._first = time.monotonic()
            self._pieces += 1
            if kind == "reasoning":
                self._reasoning.append(text)
                yield ReasoningDelta(text)
            else:
                self._answer.append(text)
                yield AnswerDelta(text)

    def flush(self) -> Iterator[Event]:
        """Text held back as a possible tag when the stream ended."""
        yield from self._emit(self._splitter.flush())

    def done(self, elapsed: float, *, cancelled: bool) -> Done:
        usage, timings = self._usage, self._timings
        prompt = _int(usage.get("prompt_tokens"))
        cached = _int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        cached = cached or _int(timings.get("cache_n"))
        decoded = _int(usage.get("completion_tokens")) or self._pieces
        ttft = None if self._first is None else self._first - self._start
        decode_time = elapsed - (ttft or 0.0)
        prompt_rate = timings.get("prompt_per_second")
        stats = GenerationStats(
            ttft_s=ttft,
            prompt_tokens=prompt,
            cached_tokens=cached,
            prefill_tokens=max(prompt - cached, 0),
            prefill_tokens_per_s=prompt_rate if isinstance(prompt_rate, int | float) else None,
            decode_tokens=decoded,
            decode_tokens_per_s=decoded / decode_time if decoded and decode_time > 0 else None,
            n_threads=0,
            placement=f"remote ({self._host})",
            cache="server" if cached else "none",
        )
        reason = "cancelled" if cancelled else self._finish
        return Done(stats, reason, "".join(self._answer), "".join(self._reasoning))


class _ShutdownOnCancel:
    """While a response streams, shut its socket down as soon as `cancel` is set: that
    wakes the blocked read at once and tells the server the client has gone."""

    def __init__(self, resp: httpx2.Response, cancel: threading.Event) -> None:
        self._resp = resp
        self._cancel = cancel
        self._over = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="folio-remote-stop", daemon=True)

    def __enter__(self) -> _ShutdownOnCancel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._over.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._over.is_set():
            if self._cancel.wait(0.05):
                stream = self._resp.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if isinstance(sock, socket.socket):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass  # already closed: the stream has ended
                return


def _sse_data(resp: httpx2.Response) -> Iterator[dict]:
    """The JSON of each `data:` event until `[DONE]` (comments and pings skipped)."""
    for line in resp.iter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if isinstance(data, dict):
            yield data


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _reported_context(entry: dict) -> int | None:
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    for value in (entry.get("max_model_len"), entry.get("context_length"), meta.get("n_ctx")):
        if isinstance(value, int) and value > 0:
            return value
    return None


def _count_from(data: dict) -> int:
    count = data.get("count")
    if isinstance(count, int):
        return count
    tokens = data.get("tokens")
    if isinstance(tokens, list):
        return len(tokens)
    raise RemoteError("no token count in the server's answer")


def _error_message(resp: httpx2.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason_phrase
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            if key in data:
                return _message_of(data[key])
    return str(data)[:300]


def _message_of(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _is_context_error(status: int, message: str) -> bool:
    text = message.lower()
    words = ("context length", "context window", "context size", "maximum context")
    return status in (400, 413) and any(w in text for w in words)


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
    if isinstance(exc, httpx2.TimeoutException):
        return "it did not answer in time"
    return str(exc) or type(exc).__name__


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
