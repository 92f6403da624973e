import codecs
from pathlib import Path

import pytest

from desktop_app.core.documents import load_attachment
from desktop_app.errors import DocumentError


def test_utf8_and_boms(tmp_path: Path):
    text = "Prix: 42 € — clause 3.1"
    cases = {
        "utf8.txt": text.encode("utf-8"),
        "bom8.txt": codecs.BOM_UTF8 + text.encode("utf-8"),
        "utf16.txt": text.encode("utf-16"),
        "cp1252.txt": text.encode("cp1252"),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        doc = load_attachment(tmp_path / name)
        assert doc.text == text, name
        assert doc.name == name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \n\t ", "is empty"),
        (b"%PDF-1.4\n...", "is a PDF"),
        (b"PK\x03\x04rest", "ZIP archive"),
        (b"abc\x00\x01\x02", "binary"),
    ],
)
def test_refused_with_reason(tmp_path: Path, data: bytes, message: str):
    f = tmp_path / "doc.txt"
    f.write_bytes(data)
    with pytest.raises(DocumentError, match=message):
        load_attachment(f)


def test_folder_and_missing(tmp_path: Path):
    with pytest.raises(DocumentError, match="is a folder"):
        load_attachment(tmp_path)
    with pytest.raises(DocumentError, match="File not found"):
        load_attachment(tmp_path / "nope.txt")
