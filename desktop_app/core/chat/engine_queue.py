"""The one thread that runs the engine, and the events that carry its output back.

llama.cpp is not thread-safe and a loaded model holds gigabytes, so exactly one long-lived
thread owns it: every job that touches the engine (load a model, open a session, stream an
answer) runs there, one at a time, in the order submitted. Whoever submits (the window's
controller, the CLI, the local API server) only queues jobs and receives `RequestEvent`s, so
none of them ever waits on the model, the disk or a parser.

Each request names its own sink, called on the engine thread; a sink that must act on
another thread hands the event on (the controller posts it to its owner thread, see
`dispatch.py`). Nothing here knows Qt. No exception leaves the engine thread: it becomes a
`Failed` event.

Streamed text is coalesced (at most one `Delta` per `FLUSH_INTERVAL_S` per request) because a
small model produces hundreds of tokens a second and a redraw per token would swamp a view.
Every request gets a monotonic id, so a view can drop a late event of an answer it no longer
shows (calibre's gui2/llm.py does the same).
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from desktop_app.core.llm.events import (
    AnswerDelta,
    CitationsChecked,
    PrefillProgress,
    ReasoningDelta,
)
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

#: A streaming job: runs on the engine thread with its request's cancel event and yields
#: `PrefillProgress`/`ReasoningDelta`/`AnswerDelta` events, then (normally) a `Done`.
Job = Callable[[threading.Event], Iterator[object]]
#: A non-streaming job (load a model, open a session): returns one value.
Call = Callable[[threading.Event], object]

#: 20 Hz: smooth enough to read as streaming, rare enough that a redraw stays cheap.
FLUSH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Started:
    """The request left the queue and runs now."""

    request_id: int


@dataclass(frozen=True)
class Progress:
    """The latest progress of a running request (throttled like `Delta`)."""

    request_id: int
    progress: PrefillProgress


@dataclass(frozen=True)
class Delta:
    """Text added since the previous `Delta` of this request."""

    request_id: int
    answer: str
    reasoning: str
    #: The citations checked so far (`CitationsChecked.found`), when that changed.
    citations: dict | None = None


@dataclass(frozen=True)
class Finished:
    """The request ended; `value` is a stream's `Done` (or what a call returned)."""

    request_id: int
    value: object


@dataclass(frozen=True)
class Failed:
    """The request ended with an error; `message` is meant for the user."""

    request_id: int
    message: str


@dataclass(frozen=True)
class Cancelled:
    """The request was cancelled before it started: it never ran."""

    request_id: int


RequestEvent = Started | Progress | Delta | Finished | Failed | Cancelled
#: Receives one request's events, on the engine thread; it must not block for long.
Sink = Callable[[RequestEvent], None]


@dataclass(frozen=True)
class _Request:
    request_id: int
    fn: Job | Call
    streaming: bool
    cancel: threading.Event
    sink: Sink


class _Batch:
    """Collects one request's deltas and latest progress, and sends them at most every
    `FLUSH_INTERVAL_S`: the throttle is on the engine side so whatever relays them (a Qt
    event queue, a socket) stays short."""

    def __init__(self, request: _Request) -> None:
        self._request = request
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._progress: PrefillProgress | None = None
        self._citations: dict | None = None
        # The first token is shown at once: time-to-first-token is what the user notices.
        self._last_flush = -math.inf

    def add(self, event: PrefillProgress | ReasoningDelta | AnswerDelta | CitationsChecked) -> None:
        if isinstance(event, PrefillProgress):
            self._progress = event  # only the latest matters
        elif isinstance(event, CitationsChecked):
            self._citations = event.found  # likewise
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        else:
            self._answer.append(event.text)
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Send what is pending; called before every terminal event so that no text
        generated before `Finished`/`Failed` is lost."""
        rid, sink = self._request.request_id, self._request.sink
        if self._progress is not None:
            sink(Progress(rid, self._progress))
            self._progress = None
        if self._answer or self._reasoning or self._citations is not None:
            answer, reasoning = "".join(self._answer), "".join(self._reasoning)
            sink(Delta(rid, answer, reasoning, self._citations))
            self._answer.clear()
            self._reasoning.clear()
            self._citations = None
        self._last_flush = time.monotonic()


class EngineQueue:
    """Owns one long-lived thread on which every job runs, one at a time, in order.

    Every request ends with exactly one of `Finished`, `Failed` or `Cancelled`, so a caller
    can track "busy" with one rule. A request that runs is announced by `Started` first.
    """

    def __init__(self, name: str = "folio-engine") -> None:
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        # Guards id allocation + enqueue (so queue order is id order), the live requests'
        # cancel events, the running id and the closed flag; never held while a job runs.
        self._lock = threading.Lock()
        self._live: dict[int, threading.Event] = {}
        self._current: int | None = None
        self._closed = False
        self._last: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job, sink: Sink) -> int:
        """Queue a streaming job and return its request id. Thread-safe; never blocks."""
        return self._enqueue(job, sink, streaming=True)

    def call(self, fn: Call, sink: Sink) -> int:
        """Queue a non-streaming job; its return value arrives in `Finished`, an exception
        as `Failed`. Thread-safe; never blocks."""
        return self._enqueue(fn, sink, streaming=False)

    def cancel(self, request_id: int | None) -> None:
        """Set the cancel event of `request_id`; None (no such request) does nothing.

        Returns at once: the running job stops at its next check (the engine aborts a decode
        between graph nodes) and ends with `Finished`; a queued one never runs and ends with
        `Cancelled` when its turn comes. Unknown or already ended ids are ignored.
        """
        if request_id is None:
            return
        with self._lock:
            event = self._live.get(request_id)
            if event is not None:
                event.set()

    def cancel_all(self) -> None:
        """Cancel the running job and everything queued (the same rules as `cancel`)."""
        with self._lock:
            for event in self._live.values():
                event.set()

    def current(self) -> int | None:
        """The id of the request running now, if any."""
        return self._current

    def shutdown(self, timeout_s: float = 5.0, last: Callable[[], None] | None = None) -> bool:
        """Cancel everything, let the running job end and join the thread; False if it did
        not stop within `timeout_s`. Idempotent; later `submit`/`call` raise RuntimeError.

        `last` runs on the engine thread after the last job ended (freeing the model there,
        never under a decode that is still running); its errors are logged.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._last = last
                for event in self._live.values():
                    event.set()
                self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _enqueue(self, fn: Job | Call, sink: Sink, *, streaming: bool) -> int:
        with self._lock:
            if self._closed:
                raise RuntimeError("the engine queue is shut down")
            request = _Request(next(self._ids), fn, streaming, threading.Event(), sink)
            self._live[request.request_id] = request.cancel
            self._queue.put(request)
        return request.request_id

    # --- engine thread ---------------------------------------------------------------

    def _serve(self) -> None:
        while (request := self._queue.get()) is not None:
            self._run(request)
        if self._last is not None:
            try:
                self._last()
            except Exception:
                log.exception("engine shutdown step failed")

    def _run(self, request: _Request) -> None:
        rid = request.request_id
        with self._lock:
            skip = request.cancel.is_set()
            if skip:
                del self._live[rid]
            else:
                self._current = rid
        if skip:
            _send(request.sink, Cancelled(rid))
            return
        batch = _Batch(request)
        value: object = None
        error: str | None = None
        try:
            request.sink(Started(rid))
            value = (
                self._stream(request, batch) if request.streaming else request.fn(request.cancel)
            )
        except FolioError as exc:
            error = str(exc)
        except Exception as exc:
            # A bug, not a user error: the traceback goes to the log, a short line to the user.
            log.exception("engine job %d failed", rid)
            error = f"Unexpected error: {str(exc) or type(exc).__name__}; details are in the log"
        # The request is over before the caller hears of it: a terminal event's handler that
        # calls `current()` or submits the next job sees the queue idle.
        with self._lock:
            self._current = None
            del self._live[rid]
        try:
            batch.flush()
        finally:
            _send(request.sink, Finished(rid, value) if error is None else Failed(rid, error))

    @staticmethod
    def _stream(request: _Request, batch: _Batch) -> object:
        """Feed the stream's events to `batch`; return the last other object it yielded
        (normally the `Done`), which becomes the `Finished` value."""
        final: object = None
        for event in request.fn(request.cancel):
            if isinstance(event, PrefillProgress | ReasoningDelta | AnswerDelta | CitationsChecked):
                batch.add(event)
            else:
                final = event
        return final


def _send(sink: Sink, event: RequestEvent) -> None:
    """A terminal event must not take the engine thread down with a faulty sink."""
    try:
        sink(event)
    except Exception:
        log.exception("a request's sink failed on %s", type(event).__name__)
