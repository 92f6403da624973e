"""Stop a running `llama_decode` between graph nodes, so Stop and Quit work mid-prefill.

The engine checks its cancel event between micro-batches, but one 512-token micro-batch of
a 9B model takes 10-70 s on a laptop CPU. llama.cpp asks an abort callback between graph
nodes; a Python callback there would take the GIL thousands of times per batch (stalling
the UI thread and the batch both), so the callback is libc's `strlen` on a two-byte flag:
"" means go on (0 = false), "x" means stop (1 = true). No Python runs inside the decode.

A watcher thread turns the cancel event into the flag while a read runs (≤ 5 ms late).
After an abort llama.cpp has dropped the aborted ubatch's positions from the cache; the
engine then rolls back to the last exact state (see `Engine._read`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import llama_cpp

#: llama_decode's return code when the abort callback stopped it.
ABORTED = 2
_POLL_S = 0.005


def _strlen_address() -> int:
    libc = ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)
    return ctypes.cast(libc.strlen, ctypes.c_void_p).value or 0


class DecodeAbort:
    """The abort flag of one llama context; `watching(cancel)` arms it for a block of evals."""

    def __init__(self, ctx: llama_cpp.llama_context_p) -> None:
        self._flag = ctypes.create_string_buffer(2)
        # Kept as attributes: llama.cpp holds raw pointers to both.
        self._callback = llama_cpp.ggml_abort_callback(_strlen_address())
        llama_cpp.llama_set_abort_callback(
            ctx, self._callback, ctypes.cast(self._flag, ctypes.c_void_p)
        )

    @property
    def raised(self) -> bool:
        return self._flag.raw[0] != 0

    @contextmanager
    def watching(self, cancel: threading.Event) -> Iterator[None]:
        """While the block runs, `cancel` being set aborts the decode in progress."""
        self._flag.raw = b"\0\0"
        done = threading.Event()

        def watch() -> None:
            # Polls both events: waiting on `cancel` alone would hold the block's exit (the
            # join) for up to a poll interval, on every answer's time to first token.
            while not done.wait(_POLL_S):
                if cancel.is_set():
                    self._flag.raw = b"x\0"
                    return

        watcher = threading.Thread(target=watch, name="folio-decode-abort", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
            self._flag.raw = b"\0\0"


def was_aborted(exc: RuntimeError) -> bool:
    """Whether llama-cpp-python's decode error is llama.cpp's "aborted" return code."""
    return str(exc).strip().endswith(f"returned {ABORTED}")
