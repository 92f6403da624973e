"""Render PDF pages in a long-lived child process, with a small cache in the app.

PDFium parses the document again to draw it, and documents are untrusted, so, as with
extraction (isolated.py), the parsing happens in a child process with a memory limit: a
hostile page that crashes PDFium or loops costs the child, never the app. The child stays
up between pages (starting one costs about half a second; paging must feel instant) and
keeps the last few documents open. A request that takes longer than the time limit is a
hang: the child is stopped (terminate → grace → kill) and the next request starts a new one.

Protocol: one JSON line per request on the child's stdin (path, password, page, scale,
quote; the password never goes on the command line or to disk). The child answers with
one JSON line, then, for a page, exactly `bytes` bytes of pixels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import IO

from desktop_app.core.documents import child_answers, isolated, rendered_page
from desktop_app.core.documents.child_answers import MalformedAnswer
from desktop_app.core.documents.rendered_page import RenderedPage
from desktop_app.errors import DocumentError, ReaderOutOfMemory, printable

#: The bundled app's way into the child (it has no `python -m`); see app.py.
CHILD_FLAG = "--folio-render"
#: A page that takes this long to draw is a hang (a dense map draws in a second or two).
TIME_LIMIT_S = 30.0
MEMORY_LIMIT_BYTES = 3 * 1024**3
#: Rendered pages kept in the app: enough to page back and forth without a redraw.
CACHE_BYTES = 160 * 1024**2
#: Documents the child keeps open.
OPEN_DOCUMENTS = 3


class PageRenderer:
    """Renders pages on the caller's thread (never the UI thread: it waits on the child).
    Thread-safe: one request at a time goes to the child."""

    def __init__(self, time_limit_s: float = TIME_LIMIT_S) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._time_limit_s = time_limit_s
        self._cache: OrderedDict[tuple, RenderedPage] = OrderedDict()
        self._cached_bytes = 0

    def render(
        self, path: Path, page: int, scale: float, quote: str | None,
        password: str | None = None, fit_width: int = 0,
    ) -> tuple[RenderedPage, bool]:  # fmt: skip
        """Page `page` (1-based) of the PDF at `path` at `scale` pixels per point (or
        `fit_width` pixels wide), and whether it came from the cache. Raises
        `PasswordRequired` and `DocumentError` with a message for the user."""
        try:
            stat = path.stat()
        except OSError as exc:
            raise DocumentError(
                f"{printable(path.name)} cannot be read: {exc.strerror or exc}"
            ) from None
        key = (str(path), stat.st_mtime_ns, stat.st_size, page, round(scale, 3), fit_width, quote)
        with self._lock:
            if (hit := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return hit, True
            request = {"path": str(path), "password": password, "page": page - 1,
                       "scale": scale, "quote": quote, "fit_width": fit_width}  # fmt: skip
            rendered = self._ask(request, printable(path.name))
            self._remember(key, rendered)
            return rendered, False

    def close(self) -> None:
        with self._lock:
            self._stop()
            self._cache.clear()
            self._cached_bytes = 0

    def _remember(self, key: tuple, rendered: RenderedPage) -> None:
        self._cache[key] = rendered
        self._cached_bytes += len(rendered.pixels)
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= len(old.pixels)

    def _ask(self, request: dict, name: str) -> RenderedPage:
        """Send `request`, read the answer; anything the child sends is checked before use
        (rendered_page.py), and a child that hangs, dies or lies is stopped."""
        child = self._child if self._child and self._child.poll() is None else self._start()
        assert child.stdin is not None and child.stdout is not None
        hung = threading.Event()
        timer = threading.Timer(self._time_limit_s, lambda: (hung.set(), child.kill()))
        timer.start()
        try:
            child.stdin.write((json.dumps(request) + "\n").encode())
            child.stdin.flush()
            line = child.stdout.readline(rendered_page.MAX_HEADER_BYTES + 1)
            if not line:
                raise EOFError  # it died (out of memory, a crash, killed) before answering
            untrusted = child_answers.json_line(line, rendered_page.MAX_HEADER_BYTES, "header line")
            if "error" in untrusted:
                child_answers.raise_error(untrusted)
            untrusted_pixels = _read_exactly(child.stdout, rendered_page.pixel_bytes(untrusted))
            return rendered_page.page(untrusted, untrusted_pixels)
        except (OSError, EOFError, MalformedAnswer) as exc:
            self._stop()
            if hung.is_set():
                raise DocumentError(
                    f"Showing a page of {name} took too long; it was stopped."
                ) from None
            if isinstance(exc, MalformedAnswer):
                raise DocumentError(
                    f"Showing a page of {name} failed: the renderer sent a malformed answer "
                    f"({exc}); it was restarted."
                ) from None
            raise DocumentError(f"Showing a page of {name} failed: the renderer stopped.") from None
        finally:
            timer.cancel()

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, FOLIO_RENDER_MEMORY=str(MEMORY_LIMIT_BYTES))
        self._child = subprocess.Popen(
            isolated.child_command(CHILD_FLAG, __name__), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        return self._child

    def _stop(self) -> None:
        """End of input first (the child's loop ends and it exits), then terminate → kill."""
        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        assert child.stdin is not None
        try:
            child.stdin.close()
            child.wait(isolated.GRACE_S)
        except (OSError, subprocess.TimeoutExpired):
            isolated.stop(child)


def _read_exactly(stream: IO[bytes], count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise EOFError  # it died while sending them
    return data


# --- the child ---------------------------------------------------------------------------


def child_main() -> int:
    """Answer render requests from stdin until it closes (see the module docstring)."""
    isolated.limit_memory("FOLIO_RENDER_MEMORY")
    from desktop_app.core.documents import page_render

    opened: OrderedDict[tuple[str, str | None, int], object] = OrderedDict()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        path = Path(request["path"])
        try:
            key = (str(path), request["password"], path.stat().st_mtime_ns)
            doc = opened.get(key)
            if doc is None:
                doc = opened[key] = page_render.open_document(path, request["password"])
                while len(opened) > OPEN_DOCUMENTS:
                    opened.popitem(last=False)[1].close()
            opened.move_to_end(key)
            page = page_render.render(
                doc, request["page"], request["scale"], request["quote"], request["fit_width"]
            )
        except (DocumentError, OSError, MemoryError) as exc:
            name = printable(path.name)
            if isinstance(exc, MemoryError):
                exc = ReaderOutOfMemory(f"Showing a page of {name} needed too much memory.")
            elif not isinstance(exc, DocumentError):
                exc = DocumentError(f"{name}: {exc}")
            out.write((json.dumps(child_answers.error_answer(exc)) + "\n").encode())
        else:
            fields = asdict(page)
            pixels = fields.pop("pixels")
            out.write((json.dumps({**fields, "bytes": len(pixels)}) + "\n").encode())
            out.write(pixels)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
