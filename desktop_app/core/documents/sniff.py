"""Decide what a file is from its bytes, not its name.

A PNG renamed to .pdf, a spreadsheet renamed to .docx or random bytes named
.txt must be refused with a message that says what the file really is. The
extension only chooses between text flavours (Markdown, CSV, code), which
share the same bytes-level format.
"""

from __future__ import annotations

import zipfile
from pathlib import PurePath

from desktop_app.core.documents.zipguard import GuardedZip
from desktop_app.errors import DocumentError

#: Pictures of pages (a phone photo of a contract, a scanner's TIFF): read by OCR.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls); save it as .docx"),
    (b"GGUF", "a model file (GGUF)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)

_ZIP_KINDS = {
    "xl/": "a spreadsheet (XLSX)",
    "ppt/": "a presentation (PPTX)",
}

_TEXT_KINDS = {
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".csv": "csv", ".tsv": "csv",
}  # fmt: skip

CODE_SUFFIXES = frozenset(
    ".py .js .ts .tsx .jsx .java .c .h .cc .cpp .hpp .cs .go .rs .rb .php .swift .kt .scala "
    ".sh .bash .ps1 .sql .r .m .lua .pl .json .yaml .yml .toml .ini .cfg .xml .css .tex".split()
)


def is_image(data: bytes) -> bool:
    """A picture of pages (PNG, JPEG, TIFF), read by OCR and drawn as pages."""
    return data.startswith(_IMAGE_MAGIC)


def detect_type(data: bytes, name: str) -> str:
    """The file's type: "pdf", "docx", "image" (PNG, JPEG, TIFF), or a text kind ("text",
    "markdown", "html", "csv", "code").

    Raises `DocumentError` naming what the file is when Folio cannot read it.
    """
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data, name)
    if is_image(data):
        return "image"
    for magic, what in _BINARY_MAGIC:
        if data.startswith(magic):
            raise DocumentError(f"{name} is {what}, not a document Folio can read.")
    suffix = PurePath(name).suffix.lower()
    if suffix in _TEXT_KINDS:
        return _TEXT_KINDS[suffix]
    if suffix in CODE_SUFFIXES:
        return "code"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def _zip_kind(data: bytes, name: str) -> str:
    try:
        names = GuardedZip(data, name).names()  # refuses absurd member counts first
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DocumentError(f"{name} is a damaged ZIP file (a .docx is a ZIP inside).") from None
    if "word/document.xml" in names:
        return "docx"
    for prefix, what in _ZIP_KINDS.items():
        if any(n.startswith(prefix) for n in names):
            raise DocumentError(f"{name} is {what}; Folio reads PDF, DOCX and text files.")
    raise DocumentError(f"{name} is a ZIP archive, not a document Folio can read.")
