"""The type comes from the bytes; the name only picks a text flavour."""

from __future__ import annotations

import io
import zipfile

import pytest

from desktop_app.core.documents.sniff import detect_type
from desktop_app.errors import DocumentError


def zip_with(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"%PDF-1.7\n...", "report.txt", "pdf"),
        (b"junk before %PDF-1.4\n", "scan.bin", "pdf"),
        (zip_with("[Content_Types].xml", "word/document.xml"), "contract.zip", "docx"),
        (b"# Title\n", "notes.md", "markdown"),
        (b"<!DOCTYPE html><html></html>", "page.txt", "html"),
        (b"a,b\n1,2\n", "data.csv", "csv"),
        (b"def f(): pass\n", "tool.py", "code"),
        (b"plain words", "README", "text"),
    ],
)
def test_detects_by_content(data: bytes, name: str, kind: str):
    assert detect_type(data, name) == kind


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"GIF89a\x00\x00", "photo.pdf", "photo.pdf is a GIF image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "old.docx", "save it as .docx"),
        (zip_with("xl/workbook.xml"), "sheet.docx", r"spreadsheet \(XLSX\)"),
        (zip_with("something.txt"), "archive.docx", "ZIP archive, not a document"),
        (b"PK\x03\x04 truncated", "broken.docx", "damaged ZIP"),
        (b"PK\x03\x04" + b"PK\x01\x02" * 20_000, "many.docx", "ZIP bomb"),
    ],
)
def test_refuses_with_what_the_file_is(data: bytes, name: str, message: str):
    with pytest.raises(DocumentError, match=message):
        detect_type(data, name)


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00", b"\xff\xd8\xff\xe0\x00", b"II*\x00\x08", b"MM\x00*\x00"]
)
def test_pictures_of_pages_are_images_whatever_their_name(data: bytes):
    """PNG, JPEG and TIFF are read by OCR (a phone photo of a contract, a scanner's TIFF)."""
    assert detect_type(data, "scan.pdf") == "image"
