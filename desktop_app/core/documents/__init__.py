"""Turning user files into the text the model sees: `load(path) -> Document`.

Every failure a file can cause (missing, too big, not a document, damaged,
encrypted, hostile) is a `DocumentError` with a message for the user; loaders never
let another exception escape (fuzz tests hold them to it). Messages name the file
through `printable`: a name with ESC or a newline in it is shown, never obeyed,
wherever the message goes (terminal, window, API answer, log).
"""

from __future__ import annotations

import hashlib
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from desktop_app.core.documents import cache, docx, pdf, text
from desktop_app.core.documents.model import Document, Extracted, Unit, page_ranges
from desktop_app.core.documents.sniff import detect_type
from desktop_app.errors import DocumentError, PasswordRequired, printable

__all__ = [
    "MAX_FILE_BYTES", "Document", "PasswordRequired", "Unit", "load", "page_ranges", "read_file",
]  # fmt: skip

MAX_FILE_BYTES = 200 * 1024 * 1024

#: progress(done, total): pages (PDF) or parts extracted so far.
Progress = Callable[[int, int], None]


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file Folio can read"


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, or a `DocumentError` that says why they cannot be read."""
    shown, name = printable(str(path)), printable(path.name)
    try:
        mode = path.stat().st_mode  # follows symlinks: a link to /dev/zero is /dev/zero
        if stat.S_ISDIR(mode):
            raise DocumentError(f"{shown} is a folder, not a document.")
        if not stat.S_ISREG(mode):
            # A device, FIFO or socket has no size and may never end (/dev/zero grew a
            # read to 24 GB; a FIFO blocked forever): refused before a byte is read.
            raise DocumentError(f"{name} is not a regular file ({_kind(mode)}).")
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(
                f"{name} is {size / 1024**2:,.0f} MB; the limit is "
                f"{max_bytes / 1024**2:,.0f} MB (Settings → Documents)."
            )
        with path.open("rb") as handle:  # a file growing while read stops at the limit
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise DocumentError(
                f"{name} grew past the limit of {max_bytes / 1024**2:,.0f} MB while being read."
            )
    except FileNotFoundError:
        raise DocumentError(f"File not found: {shown}") from None
    except PermissionError:
        raise DocumentError(f"No permission to read {shown}") from None
    except OSError as exc:
        raise DocumentError(f"Cannot read {shown}: {exc.strerror or exc}") from None
    if not data.strip():
        raise DocumentError(f"{name} is empty.")
    return data


def _extract(data: bytes, kind: str, name: str, password: str | None, progress: Progress | None):
    if kind == "pdf":
        return pdf.extract(data, name=name, password=password, progress=progress)
    if kind == "docx":
        return docx.extract(data, name=name)
    return text.extract(data, kind=kind, name=name)


def load(
    path: str | Path,
    password: str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    progress: Progress | None = None,
    use_cache: bool = True,
    isolated: bool = False,
    cancel: threading.Event | None = None,
) -> Document:
    """`isolated`: on a cache miss, parse in a child process with time and memory limits
    (see isolated.py), as the app does; the CLI and tests parse in-process."""
    p = Path(path).expanduser()
    data = read_file(p, max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    if use_cache:
        hit = cache.get(sha256)
        if hit is not None:
            return hit.for_path(p)
    if isolated:
        from desktop_app.core.documents import isolated as child

        return child.extract(
            p, password, max_bytes, sha256=sha256, progress=progress, cancel=cancel
        )
    name = printable(p.name)  # messages quote it; sniff reads only its suffix
    kind = detect_type(data, name)
    extracted: Extracted = _extract(data, kind, name, password, progress)
    if not any(u.text.strip() for u in extracted.units):
        reason = "; ".join(extracted.warnings) or "no text was found in it"
        raise DocumentError(f"{name} has no text Folio can read: {reason}")
    doc = Document(
        path=p,
        sha256=sha256,
        title=extracted.title or p.stem,
        type=kind,
        units=extracted.units,
        warnings=extracted.warnings,
    )
    # Never write the plain text of an encrypted file to disk.
    if use_cache and extracted.cacheable:
        cache.put(doc)
    return doc
