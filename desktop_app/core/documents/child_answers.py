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
import math
import re
from typing import Any, get_args

from desktop_app.core.documents.model import Extracted, OcrLayer, OcrWord, Unit, UnitKind
from desktop_app.errors import (
    DocumentError,
    OcrUnavailable,
    PasswordRequired,
    ReaderOutOfMemory,
)

TYPES = frozenset({"pdf", "docx", "image", "text", "markdown", "html", "csv", "code"})
#: What the child is doing, for the progress line ("reading page 7 of 40 by OCR").
STAGES = frozenset({"text", "ocr"})
MAX_UNITS = 2_000_000
#: Tesseract language codes joined by "+" ("eng+fra", "chi_sim").
_LANGUAGES = re.compile(r"[a-z_]{1,16}(?:\+[a-z_]{1,16}){0,15}")
#: A page holds a few hundred words; a dense spreadsheet scan a few thousand.
MAX_WORDS = 100_000
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


def message(untrusted_line: bytes, limit: int) -> dict[str, Any]:
    """One line of the extraction child: one kind of message (an error may carry more)."""
    untrusted = json_line(untrusted_line, limit)
    if len(untrusted) != 1 and "error" not in untrusted:
        raise MalformedAnswer("not a protocol message")
    return untrusted


def progress(untrusted: object) -> tuple[int, int, str]:
    """(done, total, stage): `total` pages (or parts), `done` of them read so far."""
    if (
        not isinstance(untrusted, list)
        or len(untrusted) != 3
        or not all(type(n) is int for n in untrusted[:2])
        or not 0 <= untrusted[0] <= untrusted[1] <= MAX_UNITS
        or untrusted[2] not in STAGES
    ):
        raise MalformedAnswer("progress")
    return untrusted[0], untrusted[1], untrusted[2]


def extracted(untrusted: object) -> Extracted:
    """What the child parsed, checked; the app puts it under the path and sha256 it read and
    hashed itself (documents.document)."""
    fields = {"title", "type", "cacheable", "units", "warnings"}
    if not isinstance(untrusted, dict) or set(untrusted) != fields:
        raise MalformedAnswer("document fields")
    units = untrusted["units"]
    if not isinstance(units, list) or not 0 < len(units) <= MAX_UNITS:
        raise MalformedAnswer("units")
    if untrusted["type"] not in TYPES:
        raise MalformedAnswer("type")
    if not isinstance(untrusted["cacheable"], bool):
        raise MalformedAnswer("cacheable")
    title = untrusted["title"]
    return Extracted(
        units=tuple(unit(u) for u in units),
        title=None if title is None else _text(title, MAX_LABEL_CHARS),
        warnings=_texts(untrusted["warnings"]),
        cacheable=untrusted["cacheable"],
        type=untrusted["type"],
    )


#: Failures that cross the boundary, by code: one class each, and the code each is sent as.
ERRORS: dict[str, type[DocumentError]] = {
    "document": DocumentError,
    "password": PasswordRequired,
    "wrong_password": PasswordRequired,
    "memory": ReaderOutOfMemory,
    "ocr_unavailable": OcrUnavailable,
}


def error_answer(exc: DocumentError) -> dict[str, Any]:
    """In a child: the failure as it crosses the boundary (`raise_error` maps it back)."""
    if isinstance(exc, PasswordRequired):
        code = "wrong_password" if exc.wrong_password else "password"
    else:
        code = next((c for c, cls in ERRORS.items() if type(exc) is cls), "document")
    return {"error": {"code": code, "message": str(exc)}}


def raise_error(untrusted: dict[str, Any]) -> None:
    """A child's `{"error": {"code", "message"}}` answer as the exception the app would have
    raised itself (an unknown code is a broken protocol, not a guess)."""
    error = untrusted.get("error")
    if (
        set(untrusted) != {"error"}
        or not isinstance(error, dict)
        or set(error) != {"code", "message"}
        or error["code"] not in ERRORS
        or not isinstance(error["message"], str)
    ):
        raise MalformedAnswer("malformed error")
    text, code = error["message"][:MAX_MESSAGE_CHARS], error["code"]
    if ERRORS[code] is PasswordRequired:
        raise PasswordRequired(text, wrong_password=code == "wrong_password")
    raise ERRORS[code](text)


def unit(untrusted: object) -> Unit:
    """A unit as `Unit.as_dict` wrote it, checked (the child's answer, and the cache's rows:
    one reader for both)."""
    fields = {"kind", "number", "label", "text", "ocr"}
    if not isinstance(untrusted, dict) or set(untrusted) != fields:
        raise MalformedAnswer("unit fields")
    kind, number, label = untrusted["kind"], untrusted["number"], untrusted["label"]
    if kind not in get_args(UnitKind):
        raise MalformedAnswer("unit kind")
    if number is not None and (type(number) is not int or not 0 < number <= MAX_UNITS):
        raise MalformedAnswer("unit number")
    if not isinstance(untrusted["text"], str):
        raise MalformedAnswer("unit text")
    text = untrusted["text"]
    return Unit(kind, number, None if label is None else _text(label, MAX_LABEL_CHARS),
                text, _ocr(untrusted["ocr"], len(text)))  # fmt: skip


def _ocr(untrusted: object, text_length: int) -> OcrLayer | None:
    """A page's OCR layer: every word inside the text and inside the page."""
    if untrusted is None:
        return None
    fields = {"words", "confidence", "rotation", "replaced_text_layer", "languages"}
    if not isinstance(untrusted, dict) or set(untrusted) != fields:
        raise MalformedAnswer("ocr fields")
    words = untrusted["words"]
    if not isinstance(words, list) or len(words) > MAX_WORDS:
        raise MalformedAnswer("ocr words")
    if untrusted["rotation"] not in (0, 90, 180, 270) or type(untrusted["rotation"]) is not int:
        raise MalformedAnswer("ocr rotation")
    if not isinstance(untrusted["replaced_text_layer"], bool):
        raise MalformedAnswer("ocr replaced_text_layer")
    languages = untrusted["languages"]
    if not isinstance(languages, str) or not _LANGUAGES.fullmatch(languages):
        raise MalformedAnswer("ocr languages")
    return OcrLayer(
        words=tuple(_word(w, text_length) for w in words),
        confidence=_fraction(untrusted["confidence"], 100.0),
        rotation=untrusted["rotation"],
        replaced_text_layer=untrusted["replaced_text_layer"],
        languages=languages,
    )


def _word(untrusted: object, text_length: int) -> OcrWord:
    if not isinstance(untrusted, list) or len(untrusted) != 7:
        raise MalformedAnswer("ocr word")
    start, end = untrusted[0], untrusted[1]
    if type(start) is not int or type(end) is not int or not 0 <= start < end <= text_length:
        raise MalformedAnswer("ocr word span")
    left, top, right, bottom = (_fraction(v, 1.0) for v in untrusted[2:6])
    if left > right or top > bottom:
        raise MalformedAnswer("ocr word box")
    return OcrWord(start, end, (left, top, right, bottom), _fraction(untrusted[6], 100.0))


def _fraction(untrusted: object, high: float) -> float:
    """A finite number in [0, high]."""
    if isinstance(untrusted, bool) or not isinstance(untrusted, int | float):
        raise MalformedAnswer("not a number")
    if not (math.isfinite(untrusted) and 0.0 <= untrusted <= high):
        raise MalformedAnswer("number out of range")
    return float(untrusted)


def _text(untrusted: object, limit: int) -> str:
    """A string, cut at `limit` characters (an honest title or heading can be long)."""
    if not isinstance(untrusted, str):
        raise MalformedAnswer("text field")
    return untrusted[:limit]


def _texts(untrusted: object) -> tuple[str, ...]:
    if not isinstance(untrusted, list) or len(untrusted) > MAX_WARNINGS:
        raise MalformedAnswer("warnings")
    return tuple(_text(w, MAX_MESSAGE_CHARS) for w in untrusted)
