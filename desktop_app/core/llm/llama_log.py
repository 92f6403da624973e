"""Route llama.cpp's own log output into Python logging.

llama.cpp prints load errors and progress straight to stderr, which would
put several lines of C-level detail in front of the one clear message the
CLI promises (and clutter a GUI launched from a terminal). Routed through
`logging`, they land in Folio's log file instead, where a bug report can
still find them.
"""

from __future__ import annotations

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


def route_llama_logs() -> None:
    """Install the forwarder (idempotent); llama-cpp-python installs its own on import."""
    llama_cpp.llama_log_set(_forward, ctypes.c_void_p(0))
