"""The one thread that runs the engine, and the signals that bring its output to the UI.

llama.cpp is not thread-safe and a loaded model holds gigabytes, so exactly one long-lived
thread owns it: every job that touches the engine (load a model, read a document, open a
session, stream an answer) runs there, one at a time, in the order submitted. The UI thread
only queues jobs and receives signals, so it never waits on the model, the disk or a parser.

The signals live on `EngineWorker`, which stays in the UI thread, and are emitted from the
engine thread; with the default AutoConnection Qt queues them to the UI thread, lambdas
included (PySide6 runs a functor in the sender's thread). Nothing here touches a widget and
no exception leaves the engine thread: it becomes a `failed` signal.

Streamed text is coalesced (at most one `delta` per `FLUSH_INTERVAL_S` per request) because a
small model produces hundreds of tokens a second and a redraw per token would swamp the UI.
Every request gets a monotonic id, so the UI can drop a late delta of an answer it no longer
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

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal

from desktop_app.core.llm.events import AnswerDelta, PrefillProgress, ReasoningDelta
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

#: A streaming job: runs on the engine thread with its request's cancel event and yields
#: `PrefillProgress`/`ReasoningDelta`/`AnswerDelta` events, then (normally) a `Done`.
Job = Callable[[threading.Event], Iterator[object]]
#: A non-streaming job (load a model, read a document, open a session): returns one value.
Call = Callable[[threading.Event], object]

#: 20 Hz: smooth enough to read as streaming, rare enough that the UI redraw stays cheap.
FLUSH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class _Request:
    request_id: int
    fn: Job | Call
    streaming: bool
    cancel: threading.Event


class _EngineThread(QThread):
    """A QThread whose body is a plain blocking loop: the engine thread needs no Qt event
    loop, because work reaches it through a `queue.Queue`, not through queued slots."""

    def __init__(self, body: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._body = body
        self.setObjectName("folio-engine")  # Qt also gives the OS thread this name

    def run(self) -> None:
        self._body()


class _Batch:
    """Collects one request's deltas and latest progress, and emits them at most every
    `FLUSH_INTERVAL_S`: the throttle is on the engine side so the signal queue stays short."""

    def __init__(self, worker: EngineWorker, request_id: int) -> None:
        self._worker = worker
        self._request_id = request_id
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._progress: PrefillProgress | None = None
        # The first token is shown at once: time-to-first-token is what the user notices.
        self._last_flush = -math.inf

    def add(self, event: PrefillProgress | ReasoningDelta | AnswerDelta) -> None:
        if isinstance(event, PrefillProgress):
            self._progress = event  # only the latest matters
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        else:
            self._answer.append(event.text)
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Emit what is pending; called by the worker before every terminal signal so that
        no text generated before `finished`/`failed` is lost."""
        rid = self._request_id
        if (p := self._progress) is not None:
            rate = math.nan if p.tokens_per_s is None else p.tokens_per_s
            eta = math.nan if p.eta_s is None else p.eta_s
            self._worker.progress.emit(rid, p.done, p.total, rate, eta)
            self._progress = None
        if self._answer or self._reasoning:
            self._worker.delta.emit(rid, "".join(self._answer), "".join(self._reasoning))
            self._answer.clear()
            self._reasoning.clear()
        self._last_flush = time.monotonic()


class EngineWorker(QObject):
    """Owns the one long-lived QThread on which every engine job runs, one at a time, in order.

    Every request ends with exactly one of `finished`, `failed` or `cancelled`, so the UI can
    track "busy" with one rule. A request that runs is announced by `started` first.
    """

    started = Signal(int)
    #: request_id, done, total, tokens_per_s, eta_s (NaN while unknown); throttled like `delta`.
    progress = Signal(int, int, int, float, float)
    #: request_id, answer text, reasoning text: the text added since the previous `delta`.
    delta = Signal(int, str, str)
    #: request_id, the stream's `Done` (or for `call`, the returned value).
    finished = Signal(int, object)
    #: request_id, a message for the user (the `FolioError` text, or a generic one for bugs).
    failed = Signal(int, str)
    #: request_id, the value returned by a `call` job (emitted just before `finished`).
    result = Signal(int, object)
    #: request_id of a job cancelled before it started: it never ran.
    cancelled = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        # Guards id allocation + enqueue (so queue order is id order), the live requests'
        # cancel events, the running id and the closed flag; never held while a job runs.
        self._lock = threading.Lock()
        self._live: dict[int, threading.Event] = {}
        self._current: int | None = None
        self._closed = False
        self._last: Callable[[], None] | None = None
        self._thread = _EngineThread(self._serve, self)
        self._thread.start()

    def submit(self, job: Job) -> int:
        """Queue a streaming job and return its request id. Thread-safe; never blocks."""
        return self._enqueue(job, streaming=True)

    def call(self, fn: Call) -> int:
        """Queue a non-streaming job; its return value arrives through `result` (then
        `finished`), an exception through `failed`. Thread-safe; never blocks."""
        return self._enqueue(fn, streaming=False)

    def cancel(self, request_id: int | None) -> None:
        """Set the cancel event of `request_id`; None (no such request) does nothing.

        Returns at once: the running job stops at its next check (the engine checks once per
        token or micro-batch) and ends with `finished`; a queued one never runs and ends with
        `cancelled` when its turn comes. Unknown or already ended ids are ignored. (None once
        meant "everything", and a window passing an unset id stopped every answer.)
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

    def shutdown(self, timeout_ms: int = 5000, last: Callable[[], None] | None = None) -> bool:
        """Cancel everything, let the running job end and join the thread; False if it did
        not stop within `timeout_ms`. Idempotent; later `submit`/`call` raise RuntimeError.

        `last` runs on the engine thread after the last job ended (freeing the model there,
        never under a decode that is still running); its errors are logged.

        Called from the UI thread (the window's closeEvent), it then delivers the signals the
        engine thread queued on its way out, so the final delta and `finished` of an answer
        cut short reach their slots before this returns and the partial answer can be saved.
        Slots whose receiver is already deleted are dropped by Qt.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._last = last
                for event in self._live.values():
                    event.set()
                self._queue.put(None)
        stopped = self._thread.wait(timeout_ms)
        if QThread.currentThread() is self.thread():
            QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall)
        return stopped

    def _enqueue(self, fn: Job | Call, *, streaming: bool) -> int:
        with self._lock:
            if self._closed:
                raise RuntimeError("the engine worker is shut down")
            request = _Request(next(self._ids), fn, streaming, threading.Event())
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
            self.cancelled.emit(rid)
            return
        batch = _Batch(self, rid)
        value: object = None
        error: str | None = None
        try:
            self.started.emit(rid)
            if request.streaming:
                value = self._stream(request, batch)
            else:
                value = request.fn(request.cancel)
                self.result.emit(rid, value)
        except FolioError as exc:
            error = str(exc)
        except Exception as exc:
            # A bug, not a user error: the traceback goes to the log, a short line to the user.
            log.exception("engine job %d failed", rid)
            error = f"Unexpected error: {str(exc) or type(exc).__name__}; details are in the log"
        # The request is over before the UI hears of it: a slot of the terminal signal that
        # calls `current()` or submits the next job sees the worker idle.
        with self._lock:
            self._current = None
            del self._live[rid]
        batch.flush()
        if error is None:
            self.finished.emit(rid, value)
        else:
            self.failed.emit(rid, error)

    @staticmethod
    def _stream(request: _Request, batch: _Batch) -> object:
        """Feed the stream's events to `batch`; return the last other object it yielded
        (normally the `Done`), which becomes the `finished` payload."""
        final: object = None
        for event in request.fn(request.cancel):
            if isinstance(event, PrefillProgress | ReasoningDelta | AnswerDelta):
                batch.add(event)
            else:
                final = event
        return final
