"""PDF files to one text unit per physical page, with pypdf.

Every page becomes a unit, even one without text, so `[Page 17]` always
means the 17th sheet of the file, and the page label printed on it ("iv",
"A-3") is kept when it says more than the number does.

Reading order: pypdf's plain mode reads text in content-stream order, the
order the producer wrote it, which for two-column documents (LaTeX, Word,
fpdf2) is the first column top to bottom, then the second. Its "layout" mode
lays the page out as a character grid instead, which interleaves the lines of
the two columns, so plain mode is used; it is also the faster of the two.

Damaged and hostile files are the norm for a desktop app, and pypdf raises
all kinds of exceptions on them. A file that cannot be opened at all is a
`DocumentError`; a truncated file (an interrupted download) gives what can be
recovered; a page that cannot be read costs only that page, and a warning
says which. No other exception leaves `extract`, except one raised by the
caller's own `progress` callback (which is how a caller can cancel).

Two kinds of hostile file are named for what they are. A file nested deeper than
Python's stack is damaged, even where pypdf went on with what it had parsed (it
reports that only through its log: see pypdf_log.py). A page whose content
inflates past pypdf's decompression limit is a compression bomb; that page is
not read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError, LimitReachedError
from pypdf.generic import ArrayObject, StreamObject

from desktop_app.core.documents import pypdf_log
from desktop_app.core.documents.model import Extracted, Unit, page_ranges
from desktop_app.errors import DocumentError, PasswordRequired

#: No real page holds this much text (a dense page has a few thousand
#: characters); more means a hostile or broken content stream, which would
#: only crowd the model's context and the cache.
MAX_PAGE_CHARS = 1_000_000

#: pypdf parses page content at roughly 0.3-0.7 MB/s, in pure Python and with no
#: way to interrupt it, so a page whose drawing instructions exceed this is
#: skipped: otherwise one hostile page (or a dense vector map) stalls loading
#: for minutes. Text pages need a few kB to a few hundred kB.
MAX_CONTENT_BYTES = 2 * 1024 * 1024

# Control characters (unmapped glyphs often come out as NUL or form feed)
# mean nothing to the model; tab and newline are kept, CR becomes a newline.
_CONTROLS = {c: None for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: None, 13: "\n"}
#: Typographic ligatures (U+FB00-FB06) as the letters they stand for: PDFs keep the glyph's
#: code point, and "misfits" set with an "fi" ligature could not be found by its spelling.
_LIGATURES = {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl",
              0xFB05: "st", 0xFB06: "st"}  # fmt: skip
_CLEAN = _CONTROLS | _LIGATURES
_BLANK_RUN = re.compile(r"\n{3,}")
_OBJECT_HEADER = re.compile(rb"(\d{1,10})\s+\d{1,5}\s+obj\b")

pypdf_log.install()


def extract(
    data: bytes,
    *,
    name: str,
    password: str | None,
    progress: Callable[[int, int], None] | None,
) -> Extracted:
    """Text of every page of the PDF in `data`; `name` is only used in messages.

    Raises `PasswordRequired` for an encrypted file that `password` (or the
    empty password) does not open, `DocumentError` for a file that is not a
    readable PDF.
    """
    with pypdf_log.collecting(name) as reports:
        extracted = _read(data, name, password, progress)
    if reports.too_deep:
        raise _damaged(name)
    return extracted


def _read(
    data: bytes, name: str, password: str | None, progress: Callable[[int, int], None] | None
) -> Extracted:
    reader, recovered = _open(data, name)
    encrypted = reader.is_encrypted
    if encrypted:
        _decrypt(reader, name, password)
    count = _page_count(reader, name)
    labels = _labels(reader, count)

    problems = _Problems(recovered=recovered)
    units: list[Unit] = []
    for index in range(count):
        number = index + 1
        text = _page_text(reader, index, problems, name)
        units.append(Unit(kind="page", number=number, label=labels[index], text=text))
        if progress is not None:
            progress(number, count)

    if recovered and not any(unit.text for unit in units):
        raise _damaged(name)
    return Extracted(
        units=tuple(units),
        title=_title(reader),
        warnings=problems.warnings(),
        # The plain text of an encrypted file must never be written to disk.
        cacheable=not encrypted,
        # Said by scanned.py, which reads them by OCR (or says why it cannot).
        scanned=tuple(problems.no_text),
    )


@dataclass
class _Problems:
    """Pages that gave no (or not all their) text, by cause, for the warnings."""

    #: The file was truncated or its structure broken, and was read by
    #: rebuilding it from the objects that are left.
    recovered: bool
    no_text: list[int] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)
    too_long: list[int] = field(default_factory=list)
    too_complex: list[int] = field(default_factory=list)
    bombs: list[int] = field(default_factory=list)

    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.recovered:
            out.append(
                "the file is damaged or incomplete (an interrupted download?); "
                "only the text that could be recovered is used."
            )
        if self.damaged:
            out.append(f"{_pages(self.damaged)} could not be read (damaged)")
        if self.too_long:
            have = "have" if len(self.too_long) > 1 else "has"
            out.append(
                f"{_pages(self.too_long)} {have} more than {MAX_PAGE_CHARS:,} characters of "
                f"text; only the first {MAX_PAGE_CHARS:,} are used."
            )
        if self.too_complex:
            were = "were" if len(self.too_complex) > 1 else "was"
            out.append(
                f"{_pages(self.too_complex)} {were} skipped: more than "
                f"{MAX_CONTENT_BYTES // 1024**2} MB of drawing instructions is too much to "
                "search for text."
            )
        if self.bombs:
            were = "were" if len(self.bombs) > 1 else "was"
            out.append(
                f"{_pages(self.bombs)} {were} not read: a compression bomb (content that "
                "unpacks to more than the PDF reader allows)."
            )
        return tuple(out)


def _pages(numbers: list[int]) -> str:
    return f"page{'s' if len(numbers) > 1 else ''} {page_ranges(numbers)}"


def _page_text(reader: PdfReader, index: int, problems: _Problems, name: str) -> str:
    """The page's cleaned text, or "" with the reason recorded in `problems`."""
    number = index + 1
    try:
        page = reader.get_page(index)
        if _content_size(page) > MAX_CONTENT_BYTES:
            problems.too_complex.append(number)
            return ""
        text = _clean(page.extract_text())
    except DependencyError:  # AES-128 opens without `cryptography`, but its pages do not
        raise _missing_crypto(name) from None
    except LimitReachedError as exc:
        # pypdf's messages for its decompression limits: "Limit reached while decompressing".
        (problems.bombs if "decompress" in str(exc) else problems.damaged).append(number)
        return ""
    except MemoryError:
        raise  # the reader child's memory limit: said as such, not as a damaged page
    except Exception:  # pypdf raises anything on a broken page: lose only this page.
        problems.damaged.append(number)
        return ""
    if len(text) > MAX_PAGE_CHARS:
        problems.too_long.append(number)
        return text[:MAX_PAGE_CHARS]
    if not text:
        # In a recovered file, an empty page most likely lost its fonts or
        # content to the truncation; calling it scanned would mislead.
        (problems.damaged if problems.recovered else problems.no_text).append(number)
    return text


def _open(data: bytes, name: str) -> tuple[PdfReader, bool]:
    """The reader, and whether the file had to be recovered to get one.

    strict=False lets pypdf repair what it can (a broken xref table) instead
    of refusing files every PDF viewer opens. A truncated file has lost its
    trailer, which pypdf cannot do without; appending one that points at
    offset 0 makes pypdf rebuild the cross-reference table from the objects
    that are left and look for the catalog among them.
    """
    try:
        return PdfReader(io.BytesIO(data), strict=False), False
    except DependencyError:
        raise _missing_crypto(name) from None
    except MemoryError:
        raise  # the reader child's memory limit, not a damaged file
    except Exception:
        pass
    size = max((int(m[1]) for m in _OBJECT_HEADER.finditer(data)), default=0) + 1
    trailer = b"\ntrailer\n<< /Size %d >>\nstartxref\n0\n%%%%EOF\n" % size
    try:
        return PdfReader(io.BytesIO(data + trailer), strict=False), True
    except Exception:
        raise _damaged(name) from None


def _damaged(name: str) -> DocumentError:
    return DocumentError(f"{name} is damaged and cannot be read as a PDF.")


def _decrypt(reader: PdfReader, name: str, password: str | None) -> None:
    """Decrypt with `password`, else the empty user password many files use."""
    candidates = [password, ""] if password else [""]
    try:
        opened = any(reader.decrypt(p) != PasswordType.NOT_DECRYPTED for p in candidates)
    except DependencyError:
        raise _missing_crypto(name) from None
    except Exception:
        raise DocumentError(
            f"{name} is encrypted with a method Folio cannot open, or its encryption is damaged."
        ) from None
    if opened:
        return
    if password:
        raise PasswordRequired(f"The password for {name} is not correct.", wrong_password=True)
    raise PasswordRequired(
        f"{name} is password-protected. Enter its password to open it.", wrong_password=False
    )


def _missing_crypto(name: str) -> DocumentError:
    # pypdf needs the `cryptography` package for AES; without it this is a
    # broken installation, not a problem with the user's file.
    return DocumentError(
        f"{name} is AES-encrypted and this installation of Folio lacks the "
        "'cryptography' package needed to decrypt it."
    )


def _page_count(reader: PdfReader, name: str) -> int:
    try:
        count = len(reader.pages)
    except Exception:  # a page tree pypdf cannot walk: nothing to show
        count = 0
    if count == 0:
        raise _damaged(name)
    return count


def _labels(reader: PdfReader, count: int) -> list[str | None]:
    """Page labels where the file defines them and they differ from the number.

    A label equal to the physical number adds nothing to `[Page 7]`; dropping
    it keeps the locator simple. Broken label trees only cost the labels.
    """
    try:
        if "/PageLabels" not in reader.root_object:
            return [None] * count
        found = reader.page_labels
    except Exception:
        return [None] * count
    labels: list[str | None] = [None] * count
    for index, label in enumerate(found[:count]):
        text = label.translate(_CONTROLS).strip() if isinstance(label, str) else ""
        if text and text != str(index + 1):
            labels[index] = text
    return labels


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken /Info dictionary only costs the title
        return None
    if not isinstance(title, str):
        return None
    return " ".join(title.translate(_CONTROLS).split()) or None


def _content_size(page: PageObject) -> int:
    """Decoded size of the page's content streams.

    pypdf caches the decoded data on the stream object, so `extract_text`
    reuses it rather than decoding twice.
    """
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    parts = contents if isinstance(contents, ArrayObject) else [contents]
    streams = (part.get_object() for part in parts)
    return sum(len(s.get_data()) for s in streams if isinstance(s, StreamObject))


def _clean(text: str) -> str:
    """Moderate whitespace clean-up that keeps the line breaks the page has."""
    text = text.replace("\r\n", "\n").translate(_CLEAN)
    # Per-line rstrip rather than a regex: linear even on hostile runs of spaces.
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", text).strip()
