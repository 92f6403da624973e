"""Parse a document in a child process with a time and a memory limit.

Documents come from anywhere, and the parsers (pypdf, PDFium, Tesseract, lxml) run arbitrary
input: a hostile or just huge file can take minutes inside one page, or all the memory, and
pypdf cannot be interrupted mid-page. In a child process it can: Stop (or a time limit) ends
it with terminate, a short grace, then kill (as Dangerzone stops its isolated converters),
and a memory limit (RLIMIT_AS on POSIX) turns a runaway parse into a clear error instead of
a swapping machine. The app keeps answering meanwhile, since no parser runs in its process.

Protocol: the app has read the file once (library.py); the child never opens it. The request
goes to the child's stdin as one JSON line (name, password, OCR languages, byte count; the
password never goes on the command line, where other users can read it), followed by the
file's bytes. The child writes JSON lines: `{"progress": [done, total, stage]}`, then one
`{"document": …}` or `{"error": {"code", "message"}}` (child_answers.py checks them all).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from desktop_app.core.documents import child_answers
from desktop_app.core.documents.model import Extracted, Progress
from desktop_app.errors import DocumentError, ReaderOutOfMemory

#: The bundled app's way into the child (it has no `python -m`); see app.py.
CHILD_FLAG = "--folio-extract"
#: A 3,000-page PDF extracts in about a minute here; ten is a hang, not a document.
TIME_LIMIT_S = 600.0
#: OCR takes 1-3 s a page: each page read by OCR moves the deadline to at least this far
#: ahead, so a 500-page scan can finish and one page that hangs still cannot.
OCR_PAGE_LIMIT_S = 120.0
#: Address space for the child: pypdf on a 200 MB PDF stays well below this, and so does
#: Tesseract on a page drawn at 300 dpi.
MEMORY_LIMIT_BYTES = 4 * 1024**3
#: Between terminate and kill.
GRACE_S = 1.0
#: The child's nice value (POSIX): it yields the CPU to the answer being generated.
CHILD_NICENESS = 15


class Cancelled(Exception):
    """The extraction was stopped on request."""


def extract(
    data: bytes,
    name: str,
    password: str | None,
    *,
    ocr_languages: str = "eng",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    memory_limit_bytes: int = MEMORY_LIMIT_BYTES,
) -> Extracted:
    """`documents.parse(data)` in a child process. Raises what `parse` raises (as the same
    classes, mapped back by code), `Cancelled` when `cancel` is set, and `DocumentError`
    when a limit is hit, the child dies or its answer is malformed (child_answers.py).
    `name`: the file's name, for messages (printable)."""
    command = child_command(CHILD_FLAG, __name__)
    # One BLAS thread: numpy (deskewing scans) would start one a core, each with its own
    # buffers, in a child that runs below the answer anyway.
    env = dict(os.environ, FOLIO_EXTRACT_MEMORY=str(memory_limit_bytes), OPENBLAS_NUM_THREADS="1")
    # Windows has no nice(): the child starts below normal priority instead.
    flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, creationflags=flags,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    watchdog = _Watchdog(child, cancel, time_limit_s)
    sender = threading.Thread(
        target=_send, args=(child.stdin, name, password, ocr_languages, data),
        name="folio-extract-send", daemon=True,
    )  # fmt: skip
    sender.start()  # a 200 MB file fills the pipe long before the child answers
    limit = child_answers.line_limit(len(data))
    malformed = False
    try:
        while line := child.stdout.readline(limit + 1):
            untrusted = child_answers.message(line, limit)
            if "progress" in untrusted:
                done, total, stage = child_answers.progress(untrusted["progress"])
                if stage == "ocr":
                    watchdog.extend(OCR_PAGE_LIMIT_S)
                if progress is not None:
                    progress(done, total, stage)
            elif "document" in untrusted:
                return child_answers.extracted(untrusted["document"])
            elif "error" in untrusted:
                child_answers.raise_error(untrusted)
            else:
                raise child_answers.MalformedAnswer("unknown message")
    except child_answers.MalformedAnswer:
        malformed = True
    finally:
        watchdog.stop()
        stop(child)
        sender.join()
    if watchdog.cancelled:
        raise Cancelled
    if malformed:
        raise DocumentError(f"Reading {name} failed: the reader sent a malformed answer.")
    if watchdog.timed_out:
        raise DocumentError(f"Reading {name} took too long (a page hung); it was stopped.")
    # A death without an answer: a signal (SIGKILL, SIGABRT from a C++ bad_alloc), or a
    # native library that exits on its own when an allocation fails (OpenBLAS exits 1).
    raise DocumentError(f"Reading {name} was stopped: it needed too much memory or crashed.")


def _send(pipe, name: str, password: str | None, languages: str, data: bytes) -> None:
    """The request, then the bytes; a child that died (or was stopped) meanwhile ends it."""
    request = {"name": name, "password": password, "ocr_languages": languages,
               "bytes": len(data)}  # fmt: skip
    try:
        pipe.write((json.dumps(request) + "\n").encode())
        pipe.write(data)
        pipe.close()
    except (OSError, ValueError):
        pass


class _Watchdog:
    """Stops the child when `cancel` is set or the time limit passes."""

    def __init__(
        self, child: subprocess.Popen, cancel: threading.Event | None, limit_s: float
    ) -> None:
        self.cancelled = self.timed_out = False
        self._done = threading.Event()
        self._child, self._cancel, self._deadline = child, cancel, time.monotonic() + limit_s
        self._thread = threading.Thread(target=self._watch, name="folio-extract-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self._cancel is not None and self._cancel.is_set():
                self.cancelled = True
            elif time.monotonic() > self._deadline:
                self.timed_out = True
            else:
                continue
            stop(self._child)
            return

    def extend(self, seconds: float) -> None:
        """The child made progress on slow work: it may take `seconds` more from now."""
        self._deadline = max(self._deadline, time.monotonic() + seconds)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def child_command(flag: str, module: str) -> list[str]:
    """How to start a child that runs `module`'s `child_main`: the bundled app has no
    `python -m`, so it goes through app.py's `flag` instead."""
    if getattr(sys, "frozen", False):
        return [sys.executable, flag]
    return [sys.executable, "-m", module]


def _log_to_the_app_s_file() -> None:
    """The parsers' reports (pypdf's notes on a damaged file) go to the app's log file, as
    when they ran in the app; appended by line, never rotated from here."""
    import logging

    from desktop_app import paths

    try:
        handler = logging.FileHandler(paths.log_dir() / "folio.log", encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def limit_memory(variable: str) -> None:
    """In a child: cap its address space at the bytes the parent put in `variable` (POSIX),
    so a runaway parse ends with MemoryError instead of swapping the machine."""
    limit = int(os.environ.get(variable, "0"))
    if limit and sys.platform != "win32":
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def stop(child: subprocess.Popen) -> None:
    """terminate → grace → kill; nothing if it has already exited."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# --- the child ---------------------------------------------------------------------------


def child_main() -> int:
    """Read one request and the file's bytes from stdin, parse, answer on stdout (see the
    module docstring)."""
    limit_memory("FOLIO_EXTRACT_MEMORY")
    # Ctrl+C in a terminal signals the whole foreground process group, this child too; the
    # app decides what Ctrl+C means (it stops this child itself), so the child ignores it
    # rather than die and be reported as a reader that crashed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform != "win32":
        # Below the answer in priority: on a 2-core laptop a parse at equal priority cut a
        # streaming answer to a third of its speed; reading can wait for idle cycles.
        os.nice(CHILD_NICENESS)
    _log_to_the_app_s_file()
    stdin = sys.stdin.buffer
    request = json.loads(stdin.readline())
    name = request["name"]

    def send(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:  # the bytes, the parsers and OCR's engine all live under the memory limit
        data = stdin.read(request["bytes"])
        from desktop_app.core import documents

        extracted = documents.parse(
            data, name, request["password"],
            lambda done, total, stage: send({"progress": [done, total, stage]}),
            request["ocr_languages"],
        )  # fmt: skip
    except DocumentError as exc:
        send(child_answers.error_answer(exc))
        return 0
    except MemoryError:
        message = f"Reading {name} needed too much memory."
        send(child_answers.error_answer(ReaderOutOfMemory(message)))
        return 0
    send({"document": {
        "title": extracted.title, "type": extracted.type, "cacheable": extracted.cacheable,
        "units": [u.as_dict() for u in extracted.units], "warnings": list(extracted.warnings),
    }})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
