"""Ctrl+C in the terminal commands: the first ends the run within a second, the second at once.

Python runs a SIGINT handler only on the main thread and only between bytecodes, so the
default KeyboardInterrupt lands wherever the main thread happens to be (half-way through a
history write), and not at all while the main thread waits inside a C call (a llama.cpp
decode of a 9B model: tens of seconds). The terminal commands therefore count presses with
`CtrlC` for their whole run, keep the model off the main thread, and look at the count
between events: the first press stops what runs (the engine aborts a decode between graph
nodes; the reader's child is killed) and ends the run; the second ends the process now.

A run whose engine is inside a call that cannot be interrupted (llama.cpp loading a model)
does not wait for it either: `exit_now` ends the process, which reclaims the model. Nothing
is left half-written by that: the history is SQLite (a transaction is all or nothing),
output files and saved states are written under a temp name and renamed, and an answer
that had no finish reason yet shows as interrupted, with Continue.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType, TracebackType
from typing import NoReturn

#: The shell's status for a run ended by Ctrl+C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def exit_now(code: int = EXIT_INTERRUPTED) -> NoReturn:
    """End the process at once, without waiting for threads stuck in C code (the engine's)
    or running C++ destructors under them; what was printed is flushed first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe, or a flush re-entered from a signal handler
            pass
    os._exit(code)


class CtrlC:
    """`with CtrlC() as ctrl_c:` counts Ctrl+C presses (`ctrl_c.pressed`, from 0 at each
    `with`) instead of raising KeyboardInterrupt; a second press calls `exit_now`. The
    previous handler comes back on exit."""

    def __init__(self) -> None:
        self.pressed = 0
        self._previous: object = None

    def __enter__(self) -> CtrlC:
        self.pressed = 0
        self._previous = signal.signal(signal.SIGINT, self._count)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _count(self, signum: int, frame: FrameType | None) -> None:
        self.pressed += 1
        if self.pressed > 1:
            exit_now()
