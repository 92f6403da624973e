"""Several pages read by OCR at once, one Tesseract per core, in page order.

Tesseract releases the GIL while it recognises, and the wheel's build has no threads of its
own, so a page a core is the speed-up there is: measured on this 2-core machine, 1.25 s a
page with one reader, 0.81 s with two (8 full contract pages at 300 dpi, same pages and
languages). Pages are drawn on the calling thread (PDFium is not thread-safe) and handed
to the readers as they are drawn, at most two a reader ahead, so memory stays at a few
pictures (8.7 MB each for A4 at 300 dpi) whatever the document's length. Runs in the reader
child only, which is niced below the answer being written.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from desktop_app.core.documents.model import Progress
from desktop_app.errors import OcrUnavailable

#: Readers at most: each holds its models (about 50 MB); past four cores the pages of one
#: document are few enough that more would mostly cost memory.
MAX_READERS = 4
#: Pictures drawn ahead of the readers, per reader.
AHEAD = 2


class Readers:
    """`with Readers("fra+eng") as readers: pages = readers.read_all(pictures, n, progress)`;
    `OcrUnavailable` (the app's, with a message for the user) when the engine or a
    language is missing."""

    def __init__(self, languages: str, count: int | None = None) -> None:
        from desktop_app.core.documents import ocr

        self._count = count or max(1, min(os.cpu_count() or 1, MAX_READERS))
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._made = []
        try:
            for _ in range(self._count):
                reader = ocr.OcrReader(languages)
                self._made.append(reader)
                self._idle.put(reader)
        except ocr.OcrUnavailable as exc:
            self.close()
            raise OcrUnavailable(str(exc)) from None

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_all(self, pictures: Iterable, total: int, progress: Progress | None) -> Iterator:
        """The `ocr.OcrPage` of each picture, in order; progress(done, total, "ocr") as each
        page is done."""
        done = 0
        if progress is not None:
            progress(0, total, "ocr")  # the card says OCR has begun before its first page
        with ThreadPoolExecutor(self._count, thread_name_prefix="folio-ocr") as pool:
            pending: list[Future] = []
            for picture in pictures:
                pending.append(pool.submit(self._read, picture))
                while len(pending) >= AHEAD * self._count:
                    done += 1
                    yield self._finished(pending.pop(0), done, total, progress)
            while pending:
                done += 1
                yield self._finished(pending.pop(0), done, total, progress)

    def _read(self, picture):
        reader = self._idle.get()
        try:
            return reader.read(picture)
        finally:
            self._idle.put(reader)

    @staticmethod
    def _finished(future: Future, done: int, total: int, progress: Progress | None):
        page = future.result()
        if progress is not None:
            progress(done, total, "ocr")
        return page

    def close(self) -> None:
        for reader in self._made:
            reader.close()
        self._made = []
