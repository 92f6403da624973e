"""How engine events reach the thread that owns a controller.

The engine queue calls a request's sink on the engine thread, but the controller's state
(answers in flight, the open conversation) and its view belong to one thread: the UI thread
in the window, the main thread in the CLI. A `Dispatcher` carries a callable from any thread
to that one. The window's is a queued Qt signal (`ui/qt_dispatch.py`); the CLI and the tests
use `QueueDispatcher`, which the owner pumps. Keeping the hop here is what lets the
controller stay Qt-free and single-threaded.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Protocol


class Dispatcher(Protocol):
    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` later on the owner thread. Thread-safe; never blocks."""

    def drain(self) -> None:
        """On the owner thread: run everything posted so far (used when closing, so the
        last text of an answer cut short is saved before the process ends)."""


class QueueDispatcher:
    """A dispatcher for a thread without an event loop: it calls `pump` to run what came."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def post(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def pump(self, timeout_s: float | None = None) -> bool:
        """Wait up to `timeout_s` (None: forever) for one posted callable, run it and
        everything else already waiting; False if nothing came in time."""
        try:
            fn = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return False
        fn()
        self.drain()
        return True

    def drain(self) -> None:
        while True:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return
            fn()
