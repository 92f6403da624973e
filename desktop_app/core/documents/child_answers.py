"""What the extraction child sends back, checked before the app uses any of it.

The child parses hostile files; if one takes it over, its answer is the attacker's. So, as
Dangerzone does with its isolation providers, the answer stays `untrusted_*` until checked
here: the line has a size limit, every field a type and a range, and what the app knows
itself (which file, its sha256) is never taken from the child. An answer that fails is
`MalformedAnswer`; the caller stops the child and says the file could not be read. Error
answers from both children (extraction and rendering) become the app's own exceptions here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from desktop_app.core.documents.model import Document, Unit, UnitKind
from desktop_app.errors import DocumentError, PasswordRequired

TYPES = frozenset({"pdf", "docx", "text", "markdown", "html", "csv", "code"})
MAX_UNITS = 2_000_000
MAX_LABEL_CHARS = 1000
MAX_WARNINGS = 1000
MAX_MESSAGE_CHARS = 2000
#: JSON writes a byte of text as at most 6 characters (\u0001), and a file's text may be
#: larger than the file (a DOCX is compressed): a line beyond this is no honest answer.
LINE_CHARS_PER_FILE_BYTE = 8
MIN_LINE_CHARS = 64 * 1024 * 1024


class MalformedAnswer(Exception):
    """The child's answer broke the protocol: stop it, never use what it sent."""


def line_limit(max_bytes: int) -> int:
    """The longest line an honest child sends for a file of at most `max_bytes`."""
    return max(LINE_CHARS_PER_FILE_BYTE * max_bytes, MIN_LINE_CHARS)


def json_line(untrusted_line: str | bytes, limit: int, what: str = "line") -> dict[str, Any]:
    """A child's line (read with at most `limit` + 1 characters or bytes) as a JSON object;
    either child's protocol (extraction here, rendering in rendered_page.py) starts so.
    `what` names the line in the error (the log and the renderer's message say it)."""
    newline = "\n" if isinstance(untrusted_line, str) else b"\n"
    if len(untrusted_line) > limit or not untrusted_line.endswith(newline):
        raise MalformedAnswer(f"{what} too long or cut short")
    try:
        untrusted = json.loads(untrusted_line)
    except (ValueError, RecursionError):
        raise MalformedAnswer(f"{what} is not JSON") from None
    if not isinstance(untrusted, dict):
        raise MalformedAnswer(f"{what} is not an object")
    return untrusted


def message(untrusted_line: str, limit: int) -> dict[str, Any]:
    """One line of the extraction child: one kind of message (an error may carry more)."""
    untrusted = json_line(untrusted_line, limit)
    if len(untrusted) != 1 and "error" not in untrusted:
        raise MalformedAnswer("not a protocol message")
    return untrusted


def progress(untrusted: object) -> tuple[int, int]:
    if (
        not isinstance(untrusted, list)
        or len(untrusted) != 2
        or not all(type(n) is int for n in untrusted)
        or not 0 <= untrusted[0] <= untrusted[1] <= MAX_UNITS
    ):
        raise MalformedAnswer("progress")
    return untrusted[0], untrusted[1]


def document(untrusted: object, path: Path, sha256: str) -> Document:
    """The extracted document, under the path and sha256 the app itself read and hashed."""
    if not isinstance(untrusted, dict) or set(untrusted) != {"title", "type", "units", "warnings"}:
        raise MalformedAnswer("document fields")
    units = untrusted["units"]
    if not isinstance(units, list) or not 0 < len(units) <= MAX_UNITS:
        raise MalformedAnswer("units")
    if untrusted["type"] not in TYPES:
        raise MalformedAnswer("type")
    return Document(
        path=path,
        sha256=sha256,
        title=_text(untrusted["title"], MAX_LABEL_CHARS),
        type=untrusted["type"],
        units=tuple(_unit(u) for u in units),
        warnings=_texts(untrusted["warnings"]),
    )


def raise_error(untrusted: dict[str, Any]) -> None:
    """A child's `{"error": …}` answer as the exception the app would have raised itself."""
    text = untrusted.get("error")
    if set(untrusted) - {"error", "password", "wrong_password"} or not isinstance(text, str):
        raise MalformedAnswer("malformed error")
    text = text[:MAX_MESSAGE_CHARS]
    if untrusted.get("password") is True:
        raise PasswordRequired(text, wrong_password=untrusted.get("wrong_password") is True)
    raise DocumentError(text)


def _unit(untrusted: object) -> Unit:
    if not isinstance(untrusted, dict) or set(untrusted) != {"kind", "number", "label", "text"}:
        raise MalformedAnswer("unit fields")
    kind, number, label = untrusted["kind"], untrusted["number"], untrusted["label"]
    if kind not in get_args(UnitKind):
        raise MalformedAnswer("unit kind")
    if number is not None and (type(number) is not int or not 0 < number <= MAX_UNITS):
        raise MalformedAnswer("unit number")
    if not isinstance(untrusted["text"], str):
        raise MalformedAnswer("unit text")
    return Unit(kind, number, None if label is None else _text(label, MAX_LABEL_CHARS),
                untrusted["text"])  # fmt: skip


def _text(untrusted: object, limit: int) -> str:
    """A string, cut at `limit` characters (an honest title or heading can be long)."""
    if not isinstance(untrusted, str):
        raise MalformedAnswer("text field")
    return untrusted[:limit]


def _texts(untrusted: object) -> tuple[str, ...]:
    if not isinstance(untrusted, list) or len(untrusted) > MAX_WARNINGS:
        raise MalformedAnswer("warnings")
    return tuple(_text(w, MAX_MESSAGE_CHARS) for w in untrusted)
