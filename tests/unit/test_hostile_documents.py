"""Hostile documents and names get one clear line that says what was refused.

- A PDF nested 100,000 dictionaries deep is damaged: one line, exit 2, never thousands of
  "--- Logging error ---" lines (pypdf logs from the bottom of the stack) and never exit 0
  (pypdf carries on with a partial trailer and reports that only through its log).
- A file name with ESC, BEL or a newline is shown escaped, on the terminal and in the window.
- Bombs, entity expansions, external entities and external DTDs are named, not "damaged".

Every hostile file is built here, byte by byte where the attack needs it.
"""

from __future__ import annotations

import logging
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop_app.app import setup_logging
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.errors import DocumentError, printable
from tests.fixtures.docx_factory import (
    make_contract_docx,
    make_many_members_zip,
    make_zip_bomb,
    replace_parts,
)
from tests.support import run_folio

DEPTH = 100_000
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
LAUGHS = '<!ENTITY l0 "lol">' + "".join(
    f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
)
HELLO = b"BT /F1 24 Tf 72 700 Td (Hello from page one) Tj ET"


def raw_pdf(content: bytes, *, catalog_extra: bytes = b"", trailer_extra: bytes = b"") -> bytes:
    """A one-page PDF written by hand: fpdf2 and pypdf cannot write the hostile parts."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        content,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R%s >>\n" % trailer_extra
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


def stream(data: bytes, filters: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), filters, data)


def nested(depth: int) -> bytes:
    """/X << /A << /A … >> >>: `depth` dictionaries, each inside the last."""
    return b" /X " + b"<< /A " * depth + b">> " * depth


@pytest.fixture
def app_logging() -> Iterator[Callable[[], None]]:
    """Call it to give the root logger only the handlers `setup_logging` adds (pytest's
    capture handler, attached for the test's body, raises on a record it cannot format);
    the root logger is as it was again after the test."""
    root = logging.getLogger()
    before, level = root.handlers[:], root.level

    def configure() -> None:
        root.handlers.clear()
        setup_logging(verbose=False)

    yield configure
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = before
    root.setLevel(level)


# --- the 100,000-deep PDF ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["trailer", "catalog"])
def test_a_pdf_nested_100000_deep_is_one_damaged_line(where: str, tmp_path: Path, folio_home: Path):
    deep = nested(DEPTH)
    data = raw_pdf(
        stream(HELLO),
        trailer_extra=deep if where == "trailer" else b"",
        catalog_extra=deep if where == "catalog" else b"",
    )
    path = tmp_path / "deep.pdf"
    path.write_bytes(data)
    out = run_folio("extract", str(path), home=folio_home)
    assert out.stderr == "folio: deep.pdf is damaged and cannot be read as a PDF.\n"
    assert (out.returncode, out.stdout) == (2, "")
    # pypdf's thousands of repair notes (15,627 log lines before) are one line, not the
    # log's whole history.
    log_lines = (folio_home / "logs" / "folio.log").read_text().splitlines()
    pypdf_lines = [line for line in log_lines if "pypdf" in line]
    assert len(log_lines) < 10 and len(pypdf_lines) == 1
    assert "problems reading deep.pdf, first: PdfReadError(" in pypdf_lines[0]


def test_the_window_reports_the_deep_pdf_as_damaged(tmp_path: Path):
    path = tmp_path / "deep.pdf"
    path.write_bytes(raw_pdf(stream(HELLO), trailer_extra=nested(DEPTH)))
    with pytest.raises(DocumentError) as error:
        DocumentLibrary().read(path)
    assert str(error.value) == "deep.pdf is damaged and cannot be read as a PDF."


def test_a_pdf_of_ordinary_depth_still_reads(tmp_path: Path):
    path = tmp_path / "fine.pdf"
    path.write_bytes(raw_pdf(stream(HELLO), catalog_extra=nested(20)))
    doc = DocumentLibrary().read(path)
    assert doc.units[0].text == "Hello from page one"
    assert doc.warnings == ()


class Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_pypdf_records_outside_an_extraction_still_reach_the_root_handlers():
    seen = Seen()
    logging.getLogger().addHandler(seen)
    try:
        logging.getLogger("pypdf._reader").warning("outside %s", "any extraction")
    finally:
        logging.getLogger().removeHandler(seen)
    assert seen.messages == ["outside any extraction"]


class Deep:
    """An object whose repr takes `depth` Python frames, as pypdf's nested objects do."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def __repr__(self) -> str:
        return f"<{Deep(self.depth - 1)!r}>" if self.depth else "<>"


def test_a_record_logged_at_the_recursion_limit_prints_nothing(
    capsys: pytest.CaptureFixture[str], app_logging: Callable[[], None]
):
    """The app's handlers themselves. At the bottom of the stack a record can be made but
    not formatted; the stdlib's handlers then print "--- Logging error ---" and fail again
    printing the traceback, so the caller's caller logs again, and so on, once per level."""
    app_logging()
    logger = logging.getLogger("desktop_app.test_deep")

    def dive() -> None:
        try:
            dive()
        except RecursionError:
            logger.warning("gave up inside %r", Deep(50))

    dive()
    # Where the stack allows, the record is written once; where it does not, it is dropped.
    assert capsys.readouterr().err in ("", f"folio: gave up inside {Deep(50)!r}\n")


def test_a_record_that_cannot_be_formatted_is_a_line_in_the_log_not_the_terminal(
    capsys: pytest.CaptureFixture[str], app_logging: Callable[[], None], folio_home: Path
):
    app_logging()
    logging.getLogger("desktop_app.test_format").warning("%d pages", "many")
    assert capsys.readouterr().err == ""
    log = (folio_home / "logs" / "folio.log").read_text()
    assert log.startswith(f"(a WARNING record from desktop_app.test_format at {__file__}:")
    assert log.endswith(" could not be written: TypeError)\n") and log.count("\n") == 1


# --- names with control characters --------------------------------------------------------

EVIL_NAME = "evil\x1b]0;pwned\x07\nfolio: all good.pdf"
EVIL_SHOWN = "evil\\x1b]0;pwned\\x07\\nfolio: all good.pdf"
posix_names = pytest.mark.skipif(
    sys.platform == "win32", reason="Windows file names cannot hold control characters"
)


@posix_names
def test_a_name_with_escape_sequences_is_shown_escaped_on_the_terminal(
    tmp_path: Path, folio_home: Path
):
    path = tmp_path / EVIL_NAME
    path.write_bytes(b"%PDF-1.4\nnot really a PDF")
    out = run_folio("extract", str(path), home=folio_home)
    assert out.stderr == f"folio: {EVIL_SHOWN} is damaged and cannot be read as a PDF.\n"
    assert out.returncode == 2


@posix_names
def test_a_name_with_escape_sequences_is_shown_escaped_in_the_window(tmp_path: Path):
    path = tmp_path / "notes\x1b[2J\u202etxt.md"
    path.write_bytes(b"")
    with pytest.raises(DocumentError) as error:
        DocumentLibrary().read(path)
    assert str(error.value) == "notes\\x1b[2J\\u202etxt.md is empty."


@posix_names
def test_a_missing_path_is_shown_escaped(tmp_path: Path):
    with pytest.raises(DocumentError) as error:
        DocumentLibrary().read(tmp_path / "gone\r\n.pdf")
    assert str(error.value) == f"File not found: {tmp_path / 'gone'}\\r\\n.pdf"


def test_logged_messages_on_the_terminal_are_escaped(
    capsys: pytest.CaptureFixture[str], app_logging: Callable[[], None], folio_home: Path
):
    app_logging()
    logging.getLogger("desktop_app.test_names").warning("cannot store %s", EVIL_NAME)
    assert capsys.readouterr().err == f"folio: cannot store {EVIL_SHOWN}\n"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x00b\x7fc\x9bd\te", "a\\x00b\\x7fc\\x9bd\\te"),
        ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),
        ("line\u2028break", "line\\u2028break"),
        ("bytes\udcff.pdf", "bytes\\udcff.pdf"),
        ("Café – Überblick 東京.pdf", "Café – Überblick 東京.pdf"),
        ("C:\\Users\\me\\x.pdf", "C:\\Users\\me\\x.pdf"),
    ],
)
def test_printable_escapes_what_a_terminal_would_obey(raw: str, shown: str):
    assert printable(raw) == shown
    assert printable(shown) == shown


# --- bombs, entity expansion, external entities and DTDs -----------------------------------


def document_xml(prolog: str, text: str = "x") -> bytes:
    return (
        f'<?xml version="1.0"?>{prolog}<w:document {W_NS}><w:body><w:p><w:r><w:t>{text}'
        "</w:t></w:r></w:p></w:body></w:document>"
    ).encode()


def with_document(prolog: str, text: str = "x") -> Callable[[], bytes]:
    return lambda: replace_parts(
        make_contract_docx(), {"word/document.xml": document_xml(prolog, text)}
    )


REFUSED = "{} was not opened: it "
HOSTILE_DOCX: dict[str, tuple[Callable[[], bytes], str]] = {
    "zip-bomb": (
        lambda: make_zip_bomb(1024**3),
        "{} looks like a ZIP bomb (word/document.xml unpacks to 1,024 MB; Folio reads at most "
        "100 MB of text parts); Folio will not open it.",
    ),
    "lying-zip-bomb": (
        lambda: make_zip_bomb(3 * 1024**3, declared=4096),
        "{} looks like a ZIP bomb (word/document.xml unpacks to more than the 4,096 bytes it "
        "declares); Folio will not open it.",
    ),
    "too-many-members": (
        lambda: make_many_members_zip(10_001),
        "{} looks like a ZIP bomb (10,002 files inside; documents have at most 10,000); Folio "
        "will not open it.",
    ),
    "billion-laughs": (
        with_document(f"<!DOCTYPE w:document [{LAUGHS}]>", "&l9;"),
        REFUSED + 'contains an XML entity expansion (a "billion laughs" attack).',
    ),
    "billion-laughs-in-styles": (
        lambda: replace_parts(
            make_contract_docx(),
            {"word/styles.xml": f"<!DOCTYPE w:styles [{LAUGHS}]><w:styles {W_NS}/>".encode()},
        ),
        REFUSED + 'contains an XML entity expansion (a "billion laughs" attack).',
    ),
    "xxe": (
        with_document('<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
        REFUSED + "contains an XML external entity (XXE) pointing to file:///etc/passwd.",
    ),
    "xxe-parameter": (
        with_document('<!DOCTYPE w:document [<!ENTITY % p SYSTEM "http://x.invalid/p"> %p;]>'),
        REFUSED + "contains an XML external entity (XXE) pointing to http://x.invalid/p.",
    ),
    "external-dtd": (
        with_document('<!DOCTYPE w:document SYSTEM "http://x.invalid/evil.dtd">'),
        REFUSED + "refers to an external DTD at http://x.invalid/evil.dtd.",
    ),
    "plain-dtd": (
        with_document("<!DOCTYPE w:document>"),
        REFUSED + "declares a DTD, which Word never writes.",
    ),
}


@pytest.mark.parametrize("kind", HOSTILE_DOCX)
def test_hostile_docx_says_what_was_refused(kind: str, tmp_path: Path, folio_home: Path):
    build, message = HOSTILE_DOCX[kind]
    path = tmp_path / f"{kind}.docx"
    path.write_bytes(build())
    out = run_folio("extract", str(path), home=folio_home)
    assert out.stderr == f"folio: {message.format(path.name)}\n"
    assert (out.returncode, out.stdout) == (2, "")


@pytest.mark.parametrize("kind", ["billion-laughs", "external-dtd"])
def test_the_window_says_what_was_refused(kind: str, tmp_path: Path):
    build, message = HOSTILE_DOCX[kind]
    path = tmp_path / f"{kind}.docx"
    path.write_bytes(build())
    with pytest.raises(DocumentError) as error:
        DocumentLibrary().read(path)
    assert str(error.value) == message.format(path.name)


def test_a_pdf_page_that_is_a_compression_bomb_is_named(tmp_path: Path, folio_home: Path):
    packer = zlib.compressobj(9)  # 80 KB that inflate to 80 MB, past pypdf's 75 MB
    bomb = b"".join(packer.compress(b" " * 1024**2) for _ in range(80)) + packer.flush()
    path = tmp_path / "bomb.pdf"
    path.write_bytes(raw_pdf(stream(bomb, b" /Filter /FlateDecode")))
    out = run_folio("extract", str(path), home=folio_home)
    assert out.stderr == (
        "folio: bomb.pdf has no text Folio can read: page 1 was not read: a compression bomb "
        "(content that unpacks to more than the PDF reader allows).\n"
    )
    assert out.returncode == 2
