"""The one owner of documents in the app: read once, parsed in a child, handed out by sha256.

Before this, a dropped file was read and hashed three times on three threads (the reader
job, the child, the session's resolve), the source pane parsed cache misses inside the app
(an encrypted 10,000-page PDF took 14 s on every citation click, on a thread nothing could
stop), and this run's passwords lived in the model's host and were read from the pane's
thread. Now the window, the terminal (`ask`, `chat`, `extract`, `summarize`) and the API
ask a `DocumentLibrary`, which alone:

- reads a file once and hashes those bytes once; a file seen again unchanged (same size,
  mtime and inode) is known by its sha256 without being read;
- parses only in the child process (isolated.py), sending it the bytes it read, so what was
  parsed is what was hashed; the app has no in-process parse path;
- owns the extraction cache (written here, from the checked answer, never by the child),
  the documents of this run in memory (encrypted ones only there), the passwords given in
  this run, and the page renderer of the source pane (render_service.py).

Thread-safe: the reader queue, the engine thread (reopening a conversation) and the source
pane's worker call it at once; a lock guards the maps, never a parse or a render.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.core import documents
from desktop_app.core.documents import cache, isolated
from desktop_app.core.documents.model import Document, Progress
from desktop_app.core.documents.rendered_page import RenderedPage
from desktop_app.errors import DocumentError, PasswordRequired, printable

#: Text of this run's documents kept in memory (least recently used dropped first); the
#: extraction cache on disk keeps more, encrypted documents excepted.
KEPT_CHARS = 256 * 1024**2


@dataclass(frozen=True)
class NeedsPassword:
    """An encrypted document: the view asks for the password and tries again."""

    path: str
    message: str


@dataclass(frozen=True)
class Resolved:
    """A conversation's attached documents as they can be read now."""

    documents: list[Document] = field(default_factory=list)
    #: sha256 -> why that document is left out of the model's view (its card says so).
    unavailable: dict[str, str] = field(default_factory=dict)
    #: sha256 -> path of an encrypted document whose password this run does not know.
    needs_password: dict[str, str] = field(default_factory=dict)
    #: sha256 -> a note for the card (a moved file read from the extraction cache).
    notes: dict[str, str] = field(default_factory=dict)


class DocumentLibrary:
    def __init__(
        self, max_bytes: int = documents.MAX_FILE_BYTES, ocr_languages: str = "eng"
    ) -> None:
        self.max_bytes = max_bytes
        self.ocr_languages = ocr_languages
        self._lock = threading.Lock()
        self._documents: OrderedDict[str, Document] = OrderedDict()
        self._kept_chars = 0
        #: path -> (size, mtime_ns, inode, sha256) of the bytes last read there.
        self._seen: dict[str, tuple[int, int, int, str]] = {}
        #: Passwords given this run, by path (never written anywhere).
        self._passwords: dict[str, str] = {}
        self._renderer = None

    def configure(self, max_bytes: int, ocr_languages: str) -> None:
        """New settings: the next read uses them (documents read already stay as read)."""
        self.max_bytes, self.ocr_languages = max_bytes, ocr_languages

    # ------------------------------------------------------------------ reading
    def read(
        self,
        path: str | Path,
        password: str | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Document | NeedsPassword:
        """The document at `path`: known already (this run, or the extraction cache), else
        parsed in the child. `isolated.Cancelled` when `cancel` stops it; `DocumentError`
        (and its subclasses) for a file that cannot be read."""
        p = Path(path).expanduser()
        key = str(p)
        password = password or self._passwords.get(key)
        if (known := self._known(p)) is not None and self._current(known):
            return known
        before = _stat(p)  # taken first: a file changed while read is read again next time
        data = documents.read_file(p, self.max_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        if before is not None:
            self._seen[key] = (*before, sha256)
        if (doc := self.get(sha256)) is not None and self._current(doc):
            return doc.for_path(p)
        try:
            extracted = isolated.extract(
                data, printable(p.name), password, ocr_languages=self.ocr_languages,
                progress=progress, cancel=cancel,
            )  # fmt: skip
        except PasswordRequired as exc:
            return NeedsPassword(key, str(exc))
        doc = documents.document(extracted, p, sha256)
        if extracted.cacheable:  # never the plain text of an encrypted file
            cache.put(doc)
        if password:
            self._passwords[key] = password
        self._keep(doc)
        return doc

    def get(self, sha256: str) -> Document | None:
        """The document with these bytes, if read this run or cached; no file is opened."""
        with self._lock:
            if (doc := self._documents.get(sha256)) is not None:
                self._documents.move_to_end(sha256)
                return doc
        doc = cache.get(sha256)
        if doc is not None:
            self._keep(doc)
        return doc

    def _current(self, doc: Document) -> bool:
        """Whether `doc`'s scanned pages were read in the OCR languages now set (a file
        dropped again after the user changed them is read again; reopening a conversation
        uses what was read)."""
        return all(u.ocr is None or u.ocr.languages == self.ocr_languages for u in doc.units)

    def document_at(self, path: str) -> Document:
        """The document at `path` for showing it (the source pane): `PasswordRequired` when
        it is encrypted and this run has no password for it."""
        found = self.read(path)
        if isinstance(found, NeedsPassword):
            raise PasswordRequired(found.message, wrong_password=False)
        return found

    def resolve(
        self, attached: Sequence[tuple[str, str]], cancel: threading.Event | None = None
    ) -> Resolved:
        """A conversation's attached (path, sha256) pairs: each by its sha256 when known (no
        file is read), else read from its path. A file that is gone is read from the cache;
        one that cannot be read is left out, and `Resolved` says why."""
        out = Resolved()
        for path, sha256 in attached:
            name = printable(Path(path).name)
            known = self.get(sha256)
            if known is not None:
                out.documents.append(known.for_path(Path(path)))
                if not Path(path).exists():
                    out.notes[sha256] = f"{name} was moved or deleted; using the text read earlier"
                continue
            try:
                found = self.read(path, cancel=cancel)
            except DocumentError as exc:
                gone = not Path(path).exists()
                out.unavailable[sha256] = (
                    f"{name} was moved or deleted, and its text is not cached: attach it "
                    "again to include it"
                    if gone
                    else str(exc)
                )
                continue
            if isinstance(found, NeedsPassword):
                out.needs_password[sha256] = path
                out.unavailable[sha256] = f"{name} is encrypted: enter its password to include it"
                continue
            out.documents.append(found)
        return out

    def password(self, path: str) -> str | None:
        """The password the user gave for `path` in this run."""
        return self._passwords.get(str(Path(path).expanduser()))

    # ---------------------------------------------------------------- rendering
    def render(
        self, path: str, page: int, scale: float, quote: str | None, fit_width: int = 0
    ) -> tuple[RenderedPage, bool]:
        """Page `page` (1-based) of the PDF or image at `path`, drawn in the render child
        (see render_service.PageRenderer.render); the password is this run's."""
        with self._lock:
            if self._renderer is None:
                from desktop_app.core.documents.render_service import PageRenderer

                self._renderer = PageRenderer()
            renderer = self._renderer
        return renderer.render(Path(path), page, scale, quote, self.password(path), fit_width)

    def close(self) -> None:
        """Stop the render child (Quit); reading needs no closing (each parse has its own)."""
        with self._lock:
            renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()

    # ------------------------------------------------------------------ private
    def _known(self, path: Path) -> Document | None:
        """The document last read at `path`, when the file is unchanged since."""
        seen = self._seen.get(str(path))
        if seen is None or seen[:3] != _stat(path):
            return None
        doc = self.get(seen[3])
        return None if doc is None else doc.for_path(path)

    def _keep(self, doc: Document) -> None:
        size = sum(len(u.text) for u in doc.units)
        with self._lock:
            if (old := self._documents.pop(doc.sha256, None)) is not None:  # read again
                self._kept_chars -= sum(len(u.text) for u in old.units)
            self._documents[doc.sha256] = doc
            self._kept_chars += size
            while self._kept_chars > KEPT_CHARS and len(self._documents) > 1:
                _, old = self._documents.popitem(last=False)
                self._kept_chars -= sum(len(u.text) for u in old.units)


def _stat(path: Path) -> tuple[int, int, int] | None:
    """What tells an unchanged file (size, mtime, inode), or None (read_file says why)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino
