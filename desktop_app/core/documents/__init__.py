"""Turning user files into the text the model sees: `parse(bytes) -> Extracted`.

The app never calls `parse` itself: the documents' owner (library.py) reads a file once and
hands its bytes to a child process (isolated.py), which parses them with this module.

Every failure a file can cause (missing, too big, not a document, damaged,
encrypted, hostile) is a `DocumentError` with a message for the user; loaders never
let another exception escape (fuzz tests hold them to it). Messages name the file
through `printable`: a name with ESC or a newline in it is shown, never obeyed,
wherever the message goes (terminal, window, API answer, log).
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from desktop_app.core.documents import docx, pdf, scanned, text
from desktop_app.core.documents.model import Document, Extracted, Progress, Unit, page_ranges
from desktop_app.core.documents.sniff import detect_type
from desktop_app.errors import DocumentError, PasswordRequired, printable

__all__ = [
    "MAX_FILE_BYTES", "Document", "PasswordRequired", "Unit", "document", "page_ranges", "parse",
    "read_file",
]  # fmt: skip

MAX_FILE_BYTES = 200 * 1024 * 1024


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


def parse(
    data: bytes,
    name: str,
    password: str | None = None,
    progress: Progress | None = None,
    ocr_languages: str = "eng",
) -> Extracted:
    """The units of the file in `data`, parsed in this process. Only the reader child
    (isolated.py) calls this in the app: the parsers run on untrusted bytes. Pages without a
    usable text layer, and images, are read by OCR in `ocr_languages` (scanned.py).

    `name` is only used in messages; `progress(done, total, stage)` hears of every page."""
    kind = detect_type(data, name)
    if kind == "pdf":
        steps = None if progress is None else lambda done, total: progress(done, total, "text")
        extracted = scanned.read_scans(
            data, pdf.extract(data, name=name, password=password, progress=steps),
            name, password, ocr_languages, progress,
        )  # fmt: skip
    elif kind == "image":
        extracted = scanned.read_image(data, name, ocr_languages, progress)
    elif kind == "docx":
        extracted = docx.extract(data, name=name)
    else:
        extracted = text.extract(data, kind=kind, name=name)
    if not any(u.text.strip() for u in extracted.units):
        reason = "; ".join(extracted.warnings) or "no text was found in it"
        raise DocumentError(f"{name} has no text Folio can read: {reason}")
    return replace(extracted, type=kind)


def document(extracted: Extracted, path: Path, sha256: str) -> Document:
    """The document as the app hands it out: what was parsed, under the path it was read
    from and the sha256 of the bytes it read (the app's own, never a child's)."""
    return Document(
        path=path,
        sha256=sha256,
        title=extracted.title or path.stem,
        type=extracted.type,
        units=extracted.units,
        warnings=extracted.warnings,
    )
