"""Plain-text documents: decode them faithfully or refuse them clearly.

Encodings are told apart by BOM, then strict UTF-8, then Windows-1252 (the
usual encoding of non-UTF-8 text written on Windows). Binary files are
recognised by their content, not their name, so a PDF or a ZIP renamed to
.txt is refused with a message that says what it really is.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from desktop_app.core.conversation import Attachment
from desktop_app.errors import DocumentError

MAX_FILE_BYTES = 200 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive (e.g. DOCX)"),
    (b"\x89PNG", "a PNG image"),
)


def decode_text(data: bytes, name: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DocumentError(f"{name} is {what}, not a text file; Folio cannot read it yet.")
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name} looks like a binary file, not text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_attachment(path: str | Path) -> Attachment:
    """Read a text file for the model, or raise `DocumentError` saying why not."""
    p = Path(path).expanduser()
    try:
        if p.is_dir():
            raise DocumentError(f"{p} is a folder, not a document.")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentError(
                f"{p.name} is {size / 1024**2:.0f} MB; the limit is {MAX_FILE_BYTES // 1024**2} MB."
            )
        data = p.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"File not found: {p}") from None
    except PermissionError:
        raise DocumentError(f"No permission to read {p}") from None
    except OSError as exc:
        raise DocumentError(f"Cannot read {p}: {exc.strerror or exc}") from None
    if not data.strip():
        raise DocumentError(f"{p.name} is empty.")
    return Attachment(name=p.name, text=decode_text(data, p.name))
