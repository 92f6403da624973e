"""An extraction child that lies is refused; the document never takes the child's word for
which file it is.

A fake child (a few lines of Python) writes the lines the test chooses, as a parser taken over
by a hostile file could. Before these checks the app built `Unit(**u)` from whatever came
(a TypeError out of a read), took the path and sha256 from the child, and read a line of any
length into memory.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from desktop_app.core.documents import child_answers, isolated
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.documents.model import Document, OcrLayer, OcrWord, Unit
from desktop_app.errors import DocumentError, OcrUnavailable, PasswordRequired, ReaderOutOfMemory

UNIT = {"kind": "page", "number": 1, "label": None, "text": "The rent is 900 euros.", "ocr": None}
OCR = {"words": [[0, 3, 0.1, 0.1, 0.2, 0.12, 91.5]], "confidence": 91.5, "rotation": 90,
       "replaced_text_layer": False, "languages": "eng+fra"}  # fmt: skip
DOC = {"title": "Lease", "type": "pdf", "cacheable": True, "units": [UNIT],
       "warnings": ["Page 2 has no text."]}  # fmt: skip
MALFORMED = "Reading lease.pdf failed: the reader sent a malformed answer."

#: The fake child: reads its request (and the bytes), then writes the test's lines as they are.
CHILD = """
import json, sys
request = json.loads(sys.stdin.buffer.readline())
sys.stdin.buffer.read(request["bytes"])
for line in json.load(open(sys.argv[1])):
    sys.stdout.write(line)
    sys.stdout.flush()
"""


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    path = tmp_path / "lease.pdf"
    path.write_bytes(b"%PDF-1.7 never parsed: the fake child answers\n")
    return path


def _extract(tmp_path: Path, monkeypatch, path: Path, *lines: str) -> Document:
    script = tmp_path / "lines.json"
    script.write_text(json.dumps(list(lines)))
    monkeypatch.setattr(
        isolated, "child_command", lambda flag, module: [sys.executable, "-c", CHILD, str(script)]
    )
    return DocumentLibrary().read(path)


def _line(message: object) -> str:
    return json.dumps(message) + "\n"


def test_an_honest_answer_is_the_document_under_the_app_s_own_path_and_hash(
    tmp_path, monkeypatch, lease
) -> None:
    progress = _line({"progress": [1, 1, "text"]})
    scanned = {**UNIT, "number": 2, "ocr": OCR}
    honest = {**DOC, "units": [UNIT, scanned]}
    doc = _extract(tmp_path, monkeypatch, lease, progress, _line({"document": honest}))
    assert doc == Document(
        path=lease, sha256=hashlib.sha256(lease.read_bytes()).hexdigest(), title="Lease",
        type="pdf", warnings=("Page 2 has no text.",),
        units=(Unit("page", 1, None, "The rent is 900 euros."),
               Unit("page", 2, None, "The rent is 900 euros.",
                    OcrLayer((OcrWord(0, 3, (0.1, 0.1, 0.2, 0.12), 91.5),), 91.5, 90,
                             languages="eng+fra"))),
    )  # fmt: skip


def _ocr(**change: object) -> dict:
    return {"document": {**DOC, "units": [{**UNIT, "ocr": {**OCR, **change}}]}}


@pytest.mark.parametrize(
    "lie",
    [
        {"document": {**DOC, "path": "/etc/passwd", "sha256": "00" * 32}},
        {"document": {**DOC, "units": [{**UNIT, "kind": "chapter"}]}},
        {"document": {**DOC, "units": [{**UNIT, "number": -1}]}},
        {"document": {**DOC, "units": [{**UNIT, "text": None}]}},
        {"document": {**DOC, "units": [{**UNIT, "extra": 1}]}},
        {"document": {**DOC, "units": []}},
        {"document": {**DOC, "type": "exe"}},
        {"document": {**DOC, "warnings": "not a list"}},
        {"document": {**DOC, "cacheable": "yes"}},
        _ocr(words=[[0, 99, 0.1, 0.1, 0.2, 0.2, 90]]),
        _ocr(words=[[0, 3, 0.1, 0.1, 7.0, 0.2, 90]]),
        _ocr(words=[[0, 3, 0.5, 0.1, 0.2, 0.2, 90]]),
        _ocr(words=[[0, 3, 0.1, 0.1, 0.2, 0.2, float("nan")]]),
        _ocr(rotation=45),
        _ocr(languages="eng; rm -rf"),
        _ocr(words="many"),
        {"progress": [5, 2, "text"]},
        {"progress": ["1", "2", "text"]},
        {"progress": [1, 2, "printing"]},
        {"error": "the old untyped error"},
        {"error": {"code": "segfault", "message": "no such failure"}},
        {"error": {"code": "document", "message": 42}},
        {"surprise": 1},
        [1, 2],
    ],
    ids=[
        "its-own-path-and-hash",
        "unit-kind",
        "unit-number",
        "unit-text",
        "unit-extra",
        "no-units",
        "type",
        "warnings",
        "cacheable",
        "word-outside-the-text",
        "box-outside-the-page",
        "box-inside-out",
        "confidence-nan",
        "rotation",
        "languages",
        "words",
        "progress-backwards",
        "progress-text",
        "progress-stage",
        "error-untyped",
        "error-unknown-code",
        "error-message",
        "unknown",
        "not-an-object",
    ],  # fmt: skip
)
def test_a_lying_child_is_one_clear_error(tmp_path, monkeypatch, lease, lie) -> None:
    with pytest.raises(DocumentError) as refused:
        _extract(tmp_path, monkeypatch, lease, _line(lie))
    assert str(refused.value) == MALFORMED


def test_an_endless_line_is_not_read_into_memory(tmp_path, monkeypatch, lease) -> None:
    monkeypatch.setattr(child_answers, "MIN_LINE_CHARS", 1024 * 1024)
    monkeypatch.setattr(child_answers, "LINE_CHARS_PER_FILE_BYTE", 0)
    with pytest.raises(DocumentError) as refused:
        _extract(tmp_path, monkeypatch, lease, "x" * (3 * 1024 * 1024))
    assert str(refused.value) == MALFORMED


@pytest.mark.parametrize(
    ("code", "raised"),
    [("memory", ReaderOutOfMemory), ("ocr_unavailable", OcrUnavailable),
     ("document", DocumentError)],
)  # fmt: skip
def test_the_child_s_errors_come_back_as_the_app_s_own_classes_by_code(
    tmp_path, monkeypatch, lease, code, raised
) -> None:
    failure = {"error": {"code": code, "message": "lease.pdf: what went wrong."}}
    with pytest.raises(DocumentError) as error:
        _extract(tmp_path, monkeypatch, lease, _line(failure))
    assert type(error.value) is raised and str(error.value) == "lease.pdf: what went wrong."


def test_a_wrong_password_is_the_password_error_and_asks_again(
    tmp_path, monkeypatch, lease
) -> None:
    failure = {"error": {"code": "wrong_password", "message": "Not the password."}}
    found = _extract(tmp_path, monkeypatch, lease, _line(failure))
    assert found.message == "Not the password."  # NeedsPassword: the view asks again
    with pytest.raises(PasswordRequired) as error:
        child_answers.raise_error(failure)
    assert error.value.wrong_password


def test_the_child_parses_the_bytes_the_app_hashed_and_never_opens_the_file(
    tmp_path: Path, monkeypatch
) -> None:
    """The app reads a file once; the child gets those bytes. A file replaced between the
    two can no longer be parsed as another file's text under the first one's hash."""
    notes = tmp_path / "notes.txt"
    notes.write_text("The deposit is two months' rent.")
    sent: list[bytes] = []
    real = isolated.extract
    monkeypatch.setattr(
        isolated, "extract", lambda data, *a, **k: sent.append(data) or real(data, *a, **k)
    )
    doc = DocumentLibrary().read(notes)
    assert sent == [notes.read_bytes()]
    assert doc.sha256 == hashlib.sha256(sent[0]).hexdigest()
    assert doc.units[0].text == "The deposit is two months' rent."
