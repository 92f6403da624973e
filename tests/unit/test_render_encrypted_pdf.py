"""An encrypted PDF whose text opens without a prompt (an empty user password, an owner
password set) also draws: a citation click shows the page, not "its password is needed".

PDFium refuses such a file when its /Perms entry does not match /P (a writer that changed
the permissions after encrypting): pypdf, which extracts the text, does not check it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject

from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.errors import PasswordRequired
from tests.fixtures.pdf_factory import OWNER_PASSWORD, make_pdf

TEXT = "Owner-locked lease. The deposit is 2,400 euros."


def r6_with_stale_permissions(user_password: str) -> bytes:
    """AES-256 (revision 6) with an owner password, then /P changed without resealing
    /Perms, as some PDF tools leave it."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([TEXT]))))
    writer.encrypt(user_password=user_password, owner_password=OWNER_PASSWORD,
                   algorithm="AES-256")  # fmt: skip
    writer._encrypt_entry[NameObject("/P")] = NumberObject(-3904)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def library():
    lib = DocumentLibrary()
    yield lib
    lib.close()


def test_a_pdf_with_an_empty_user_password_draws(tmp_path: Path, library: DocumentLibrary):
    path = tmp_path / "r6-password.pdf"
    path.write_bytes(r6_with_stale_permissions(""))
    with pytest.raises(pdfium.PdfiumError, match="Incorrect password"):
        pdfium.PdfDocument(str(path))  # what PDFium alone says: the case is real
    assert TEXT in library.read(path).model_text()  # the text opens without a prompt
    page, cached = library.render(str(path), 1, 1.0, "2,400 euros")
    assert not cached and page.page_count == 1 and page.has_text
    # Drawn: dark text pixels on the white page, and the quote's box found on it.
    assert min(page.pixels[0::4]) < 100 and max(page.pixels[0::4]) == 255
    [(left, top, right, bottom)] = page.highlights
    assert 0 <= left < right <= page.width and 0 <= top < bottom <= page.height


def test_a_wrong_or_missing_password_still_asks(tmp_path: Path, library: DocumentLibrary):
    path = tmp_path / "locked.pdf"
    path.write_bytes(r6_with_stale_permissions("s3cret"))
    with pytest.raises(PasswordRequired, match="its password is needed to show it"):
        library.render(str(path), 1, 1.0, None)
