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
from desktop_app.core.documents.model import Document, Unit
from desktop_app.errors import DocumentError, PasswordRequired

LIMIT = 200 * 1024**2
UNIT = {"kind": "page", "number": 1, "label": None, "text": "The rent is 900 euros."}
DOC = {"title": "Lease", "type": "pdf", "units": [UNIT], "warnings": ["Page 2 has no text."]}
MALFORMED = "Reading lease.pdf failed: the reader sent a malformed answer."

#: The fake child: reads its request, then writes the test's lines as they are.
CHILD = """
import json, sys
sys.stdin.readline()
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
    return isolated.extract(path, None, LIMIT, sha256="ab" * 32)


def _line(message: object) -> str:
    return json.dumps(message) + "\n"


def test_an_honest_answer_is_the_document_under_the_app_s_own_path_and_hash(
    tmp_path, monkeypatch, lease
) -> None:
    progress = _line({"progress": [1, 1]})
    doc = _extract(tmp_path, monkeypatch, lease, progress, _line({"document": DOC}))
    assert doc == Document(
        path=lease, sha256="ab" * 32, title="Lease", type="pdf",
        units=(Unit("page", 1, None, "The rent is 900 euros."),),
        warnings=("Page 2 has no text.",),
    )  # fmt: skip


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
        {"progress": [5, 2]},
        {"progress": ["1", "2"]},
        {"error": {"not": "text"}},
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
        "progress-backwards",
        "progress-text",
        "error-object",
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


def test_the_child_s_errors_come_back_as_the_app_s_own(tmp_path, monkeypatch, lease) -> None:
    locked = {"error": "lease.pdf is password-protected.", "password": True,
              "wrong_password": True}  # fmt: skip
    with pytest.raises(PasswordRequired) as asked:
        _extract(tmp_path, monkeypatch, lease, _line(locked))
    assert asked.value.wrong_password and str(asked.value) == "lease.pdf is password-protected."


def test_a_file_that_changed_between_the_app_s_read_and_the_child_s_is_refused(
    tmp_path: Path, folio_home: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The deposit is two months' rent.")
    stale = hashlib.sha256(b"what the app read before").hexdigest()
    with pytest.raises(DocumentError, match="notes.txt changed while it was being read"):
        isolated.extract(notes, None, LIMIT, sha256=stale)
