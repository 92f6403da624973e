"""Text-based documents (plain text, code, CSV, Markdown, HTML): decode, then find sections.

Text has no pages, so the units a reader (and a citation) can point to are
sections under headings: Markdown `#` headings, HTML `<h1>`–`<h6>`, and the
numbered clause headings of plain-text contracts ("12.3 Payment terms").

Decoding must be faithful or refuse: a wrong guess turns every accented
letter into mojibake the model then quotes back, and binary bytes read as
text only waste the context. BOMs decide first, then strict UTF-8, then
charset-normalizer for the legacy encodings (cp1252, Shift-JIS, ...).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from charset_normalizer import from_bytes

from desktop_app.core.documents.model import Extracted, Unit
from desktop_app.errors import DocumentError

# UTF-32 LE before UTF-16 LE: its BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: charset-normalizer is pure Python; it sees at most this much of a large file.
_SAMPLE_BYTES = 256 * 1024


def decode_text(data: bytes, name: str) -> str:
    """The whole of `data` as text with "\\n" newlines; `DocumentError` if it is binary."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _newlines(data.decode(encoding, errors="replace"))
    if b"\x00" in data:
        raise _binary(name)
    try:
        return _newlines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        candidates = _guess_encodings(_sample(data, exc.start))
    if not candidates:
        raise _binary(name)
    # The guess saw a sample; the first candidate that decodes the whole file wins.
    for encoding in candidates[:3]:
        try:
            return _newlines(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    return _newlines(data.decode(candidates[0], errors="replace"))


def extract(data: bytes, *, kind: str, name: str) -> Extracted:
    """Units of a text `kind` ("text", "code", "csv", "markdown", "html")."""
    text = decode_text(data, name)
    if kind == "csv":
        # Kept as-is: the delimiters show the model the columns as well as Markdown would.
        return Extracted(units=(Unit("section", None, None, text),))
    if kind == "markdown":
        return Extracted(units=_split(text, _markdown_headings(text)))
    if kind == "html":
        return _html(text)
    return Extracted(units=_split(text, _clause_headings(text)))


def _binary(name: str) -> DocumentError:
    return DocumentError(f"{name} looks like a binary file, not text.")


def _newlines(text: str) -> str:
    if "\r" not in text:  # the usual case; replacing copies up to 800 MB for nothing
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _sample(data: bytes, first_bad: int) -> bytes:
    """Up to `_SAMPLE_BYTES` around the first non-UTF-8 byte.

    That is where the bytes that tell encodings apart are; cutting at newlines
    where possible keeps multi-byte characters (Shift-JIS, GBK) whole.
    """
    half = _SAMPLE_BYTES // 2
    start = max(data.rfind(b"\n", 0, first_bad) + 1, first_bad - half)
    end = first_bad + half
    if end < len(data):
        newline = data.rfind(b"\n", first_bad, end)
        end = newline if newline > 0 else end
    return data[start:end]


#: Below this many non-ASCII bytes, there is too little to guess an encoding from.
_FEW_NON_ASCII = 4
#: Below this many, a statistical guess is still weak: a French note ("Café résumé …
#: 1.500 €") came out as Baltic cp775 ("Cafķ rķsumķ … Ć1.500").
_SHORT_NON_ASCII = 64
#: What Western European text (the languages of cp1252) writes beyond ASCII: accented
#: letters, the euro sign, typographic punctuation. Not the ones a cp1250 or cp1251 text
#: misread as cp1252 is full of (¹ ³ ¿ ð þ, and words made only of accented letters).
_WESTERN = frozenset(
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšžÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŒŠŽŸ€…–—‘’“”„«»°§•·"
)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _looks_western(text: str) -> bool:
    """Whether `text` reads as Western European: every non-ASCII character one such a
    language writes, and words mostly of plain letters ("déjeuner", not "Ïðèâåò")."""
    if not all(c in _WESTERN for c in text if not c.isascii()):
        return False
    words = [w for w in re.findall(r"\w+", text) if not w.isascii()]
    accented = sum(not c.isascii() for w in words for c in w)
    return accented <= 0.4 * sum(len(w) for w in words)


def _guess_encodings(sample: bytes) -> list[str]:
    """Encodings for `sample`, likeliest first; empty if it is no text at all."""
    as_utf8 = sample.decode("utf-8", errors="replace")
    bad = as_utf8.count("\ufffd")
    good = len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) - bad
    if good > 8 * bad:
        return ["utf-8"]  # UTF-8 with a stray byte or a cut-off last character
    non_ascii = sum(byte >= 0x80 for byte in sample)
    if non_ascii < _SHORT_NON_ASCII and _decodes(sample, "cp1252"):
        # A short note gives a statistical guesser little to go on ("5 €" came out as
        # Cyrillic "5 А"): when it reads as Western text in Windows' Western encoding, the
        # commonest legacy one, take that.
        if non_ascii < _FEW_NON_ASCII or _looks_western(sample.decode("cp1252")):
            return ["cp1252"]
    matches = list(from_bytes(sample))
    if not matches:
        return []
    # Western text often decodes equally cleanly as cp1250, cp1252 and more;
    # charset-normalizer breaks such ties arbitrarily, while cp1252 is by far
    # the commonest of them (Windows' default for Western European languages).
    least = min(m.chaos for m in matches)
    tied = (m for m in matches if m.chaos <= least + 0.01)
    preferred = ["cp1252"] if any("cp1252" in m.could_be_from_charset for m in tied) else []
    return list(dict.fromkeys(preferred + [m.encoding for m in matches]))


# -- sections -----------------------------------------------------------------

#: (start, end, label) of a heading line: the section runs from `end` to the next heading.
_Heading = tuple[int, int, str]


def _split(text: str, headings: list[_Heading]) -> tuple[Unit, ...]:
    """Sections between the headings; the heading itself is the label, not body text."""
    if not headings:
        return (Unit("section", None, None, text),)
    units = []
    preamble = text[: headings[0][0]]
    if preamble.strip():
        units.append(Unit("section", None, None, preamble.strip("\n")))
    for label, body in _bodies(text, headings):
        units.append(Unit("section", None, label, body.strip("\n")))
    return tuple(units)


def _bodies(text: str, headings: list[_Heading]) -> list[tuple[str, str]]:
    """(label, body) of each heading, the body running up to the next heading."""
    ends = [start for start, _, _ in headings[1:]] + [len(text)] if headings else []
    return [(label, text[end:stop]) for (_, end, label), stop in zip(headings, ends, strict=True)]


def _at_line_starts(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches of `pattern`, which starts with "\\n", at the start of every line of `text`.

    They are found in "\\n" + text: Python's re jumps to a literal first
    character fast, but tries `^` at every position (3x slower on 200 MB). So
    m.start() is the line's start in `text`, and m.end() - 1 the line's end.
    """
    return pattern.finditer("\n" + text)


_MD_LINE = re.compile(
    r"\n {0,3}(?:(?P<fence>`{3,}|~{3,})"
    r"|#{1,6}(?:[ \t]+(?P<title>[^\n]*?))?(?:[ \t]+#+)?[ \t]*$)",
    re.MULTILINE,
)


def _markdown_headings(text: str) -> list[_Heading]:
    """ATX headings, skipping `#` lines inside fenced code (shell comments, say)."""
    headings: list[_Heading] = []
    fence: str | None = None
    for m in _at_line_starts(_MD_LINE, text):
        marker = m["fence"]
        if marker:
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None and m["title"]:
            headings.append((m.start(), m.end() - 1, m["title"].strip()))
    return headings


_CLAUSE = re.compile(
    r"""\n[ \t]{0,3}
    (?P<number>
        (?:article|art\.|section|sec\.|clause|§{1,2})[ \t]*
            (?:\d{1,3}(?:\.\d{1,3})*[a-z]?|(?-i:[IVXLC]{1,7}))\b\.?
      | \d{1,3}(?:\.\d{1,3})+\.?   # 12.3, 12.3.
      | \d{1,3}\.                  # 1.  (not "2024." nor a bare "3")
    )
    (?P<rest>[^\n]*)$""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
_SEPARATORS = " \t.:)-–—"
_SENTENCE_BREAK = re.compile(r"[.!?;]\s")


def _clause_headings(text: str) -> list[_Heading]:
    """Numbered clause headings, when the text is structured by them.

    Conservative, so that prose is not cut at every numbered sentence: only
    lines that look like headings count (see `_clause_label`), and only when at
    least two of them head some body text; a bare numbered list does not.
    """
    headings = [
        (m.start(), m.end() - 1, label)
        for m in _at_line_starts(_CLAUSE, text)
        if (label := _clause_label(m))
    ]
    with_body = sum(1 for _, body in _bodies(text, headings) if body.strip())
    return headings if with_body >= 2 else []


def _clause_label(m: re.Match[str]) -> str | None:
    """The heading as the reader sees it, or None if the line reads like a sentence."""
    line, rest = m.group().strip(), m["rest"]
    if len(line) >= 100 or (rest and rest[0] not in _SEPARATORS):
        return None  # a paragraph, or "1.5kg"
    title = rest.lstrip(_SEPARATORS)
    if not title:  # "Article 5" on its own line heads a clause; "3." does not
        return None if m["number"][0].isdigit() else line.lstrip("§ \t")
    words = title.split()
    if not title[0].isalpha() or title[0].islower() or len(words) > 12:
        return None  # "2. we then ...", "1.5 kg", a quoted definition
    if title[-1] in ",;" or _SENTENCE_BREAK.search(title):
        return None
    if title[-1] in ".:" and (len(words) > 4 or any(w[0].islower() for w in words)):
        return None  # "1. Then we trained." is a sentence; "1. Definitions." a heading
    # The locator prints "§ " before the label already.
    return line.lstrip("§ \t")


# -- HTML ---------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "template"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form header hr html li main nav ol p pre section summary "
    "table tbody tfoot thead tr ul".split()
)
#: Unicode \s: &nbsp; and other odd spaces reach the model as plain spaces.
_SPACE = re.compile(r"\s+")


def _html(text: str) -> Extracted:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    bodies = (
        (label, re.sub(r"\n{3,}", "\n\n", "".join(p)).strip("\n")) for label, p in parser.sections
    )
    units = tuple(Unit("section", None, label, body) for label, body in bodies if label or body)
    return Extracted(units=units, title=parser.title)


@dataclass
class _Table:
    """Rows of cells, each cell the text pieces seen inside it so far."""

    rows: list[list[list[str]]] = field(default_factory=list)
    #: The first row is <th> cells: a Markdown separator goes under it.
    header: bool = False
    in_cell: bool = False

    def render(self) -> str:
        lines = []
        for i, row in enumerate(r for r in self.rows if r):
            cells = [_SPACE.sub(" ", "".join(c)).strip().replace("|", "\\|") for c in row]
            lines.append("| " + " | ".join(cells) + " |")
            if i == 0 and self.header:
                lines.append("|" + " --- |" * len(cells))
        return "\n".join(lines)


class _HtmlText(HTMLParser):
    """The visible text of a page, as sections under its <h1>–<h6> headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.sections: list[tuple[str | None, list[str]]] = [(None, [])]
        self._skip = 0
        self._in_head = False
        self._pre = 0
        self._title: list[str] | None = None
        self._heading: list[str] | None = None
        self._tables: list[_Table] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        if self._skip:
            return
        if tag == "head":
            self._in_head = True
        elif tag == "title":
            self._title = []
        if tag in _BLOCKS or tag in _HEADINGS:
            self._in_head = False  # browsers end an unclosed <head> (and <title>) here too
            self._end_title()
            self._end_heading()  # "<h1>Title<p>Body" is not one long heading
        table = self._tables[-1] if self._tables else None
        if tag in _HEADINGS and not (table and table.in_cell):
            self._heading = []
        elif tag == "br":
            self._break(force=True)
        elif tag == "li":
            self._break()
            self._add("- ")
        elif tag == "table":
            self._break()
            self._tables.append(_Table())
        elif tag == "tr" and table:
            table.rows.append([])
            table.in_cell = False
        elif tag in ("td", "th") and table:
            if not table.rows:
                table.rows.append([])
            table.header |= tag == "th" and len(table.rows) == 1
            table.rows[-1].append([])
            table.in_cell = True
        elif tag in _BLOCKS or tag in ("td", "th"):
            self._pre += tag == "pre"
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        if self._skip or tag in _SKIP:
            return
        if tag == "head":
            self._in_head = False
        elif tag == "title":
            self._end_title()
        elif tag in _HEADINGS:
            self._end_heading()
        elif tag in ("td", "th") and self._tables:
            self._tables[-1].in_cell = False
        elif tag == "table" and self._tables:
            self._end_table()
        elif tag in _BLOCKS:
            self._pre = max(0, self._pre - (tag == "pre"))
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._title is not None:
            self._title.append(data)
        elif not self._in_head:
            self._add(data)

    def close(self) -> None:
        super().close()
        self._end_title()
        self._end_heading()
        while self._tables:
            self._end_table()

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        # Browsers read an unknown "<![..." as a bogus comment; html.parser asserts.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return len(self.rawdata) if end < 0 else end + 1

    def _sink(self) -> list[str]:
        """Where text goes now: the open table cell, the heading, or the section body."""
        if self._tables and self._tables[-1].in_cell:
            return self._tables[-1].rows[-1][-1]
        if self._heading is not None:
            return self._heading
        return self.sections[-1][1]

    def _add(self, text: str) -> None:
        sink = self._sink()
        if not self._pre:
            text = _SPACE.sub(" ", text)
            if not sink or sink[-1][-1] in " \n":
                text = text.lstrip(" ")
        if text:
            sink.append(text)

    def _break(self, *, force: bool = False) -> None:
        """End the line (unless it is empty and `force` is not set: a <br> always ends one)."""
        sink = self._sink()
        if sink and not self._pre:
            last = sink.pop().rstrip(" ")
            if last:
                sink.append(last)
        if force or (sink and not sink[-1].endswith("\n")):
            sink.append("\n")

    def _end_title(self) -> None:
        if self._title is not None and self.title is None:
            self.title = _SPACE.sub(" ", "".join(self._title)).strip() or None
        self._title = None

    def _end_heading(self) -> None:
        label = _SPACE.sub(" ", "".join(self._heading or ())).strip()
        self._heading = None
        if label:
            self.sections.append((label, []))

    def _end_table(self) -> None:
        rendered = self._tables.pop().render()
        self._break()
        if rendered:
            self._sink().append(rendered)
            self._break()
