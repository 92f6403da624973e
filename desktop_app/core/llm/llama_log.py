"""Route llama.cpp's own log output into Python logging, and keep the process's streams.

llama.cpp prints load errors and progress straight to stderr, which would
put several lines of C-level detail in front of the one clear message the
CLI promises (and clutter a GUI launched from a terminal). Routed through
`logging`, they land in Folio's log file instead, where a bug report can
still find them.

With its logs routed, llama-cpp-python's own way of hiding them is not needed and is
harmful: its `suppress_stdout_stderr` (entered around every model load unless `verbose`)
points file descriptors 1 and 2 at the null device and swaps `sys.stdout`/`sys.stderr`
for the whole process. Folio loads models on a worker thread, so whatever any other thread
printed meanwhile was lost: `folio ask --model <9B> fifo.txt` refused the file while the
model loaded and exited 2 with nothing on stderr. `route_llama_logs` replaces it with a
context manager that leaves the streams alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging

import llama_cpp

log = logging.getLogger("llama.cpp")

# ggml_log_level (ggml.h): NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the
# last line). llama.cpp's INFO is chatty load detail, so it is logged at DEBUG.
_LEVELS = {
    0: logging.CRITICAL,
    1: logging.DEBUG,
    2: logging.DEBUG,
    3: logging.WARNING,
    4: logging.ERROR,
}
_last_level = logging.DEBUG


@llama_cpp.llama_log_callback
def _forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    global _last_level
    if level != 5:
        _last_level = _LEVELS.get(level, logging.DEBUG)
    message = text.decode("utf-8", errors="replace").rstrip("\n")
    if message and log.isEnabledFor(_last_level):
        log.log(_last_level, "%s", message)


def _streams_untouched(disable: bool = True) -> contextlib.nullcontext[None]:
    """Stands in for llama-cpp-python's `suppress_stdout_stderr(disable=...)`: nothing to
    hide, since llama.cpp's output goes through `_forward` (see the module docstring)."""
    return contextlib.nullcontext()


def route_llama_logs() -> None:
    """Install the forwarder and keep the streams (idempotent); llama-cpp-python installs
    its own forwarder on import."""
    from llama_cpp import _internals, llama, llama_chat_format

    llama_cpp.llama_log_set(_forward, ctypes.c_void_p(0))
    for module in (llama, _internals, llama_chat_format):
        module.suppress_stdout_stderr = _streams_untouched
