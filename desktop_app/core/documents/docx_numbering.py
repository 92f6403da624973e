"""Clause numbers and headings as the reader sees them: styles and numbering.xml.

Word does not store "12.3" in the text of a numbered paragraph; it computes
it from list definitions while laying out the page. Contracts cite clauses by
those numbers, so the reader recomputes them the way Word does:

- A paragraph is in a list through its own `w:numPr` or through its style's
  (styles inherit along `w:basedOn`; heading styles are often linked to a
  multilevel list). `numId` 0 takes a paragraph out of the list it inherits.
- Counters belong to the abstract list (`w:abstractNum`): two `w:num` that
  share one continue each other's numbering, which is how Word behaves. A
  `w:num` with a level override (Word's "Restart numbering") sets the shared
  counter of that level to its `w:startOverride` the first time it is used
  there, and counting goes on from that value, through either `w:num`.
- Using a level restarts the deeper ones, unless `w:lvlRestart` says otherwise.
- `w:lvlText` is a template ("%1.%2", "(%3)", "Article %1") whose `%n` shows
  level n's counter in level n's format, or in decimal for legal numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lxml import etree

from desktop_app.core.documents.docx_package import W, first_child

LEVELS = 9
BULLET = "•"
#: Word's largest list value. A hostile start value beyond it would make
#: letters and Roman numerals gigabytes long; such values are shown in decimal.
MAX_LIST_VALUE = 32767
_HEADING_NAME = re.compile(r"(heading [1-9]|title)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"%([1-9])")
_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


def on(element: etree._Element | None) -> bool:
    """Whether an on/off property element is present and not switched off."""
    return element is not None and on_attr(element.get(W + "val", "true"))


def on_attr(value: str | None) -> bool:
    """Whether an on/off attribute is present and not switched off."""
    return value is not None and value not in ("0", "false", "off")


def _int(element: etree._Element | None, default: int | None = None) -> int | None:
    if element is None:
        return default
    try:
        return int(element.get(W + "val", ""))
    except ValueError:
        return default


def _val(element: etree._Element | None) -> str | None:
    return None if element is None else element.get(W + "val")


def format_number(n: int, fmt: str) -> str:
    """`n` the way a numFmt shows it; formats Folio does not know fall back to decimal."""
    if fmt == "none":
        return ""
    if fmt == "bullet":
        return BULLET
    if not 0 < n <= MAX_LIST_VALUE:
        return str(n)
    if fmt in ("lowerLetter", "upperLetter"):
        # Word goes a..z, aa..zz, aaa..: the letter repeats, it does not carry.
        letters = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letters if fmt == "lowerLetter" else letters.upper()
    if fmt in ("lowerRoman", "upperRoman"):
        digits, rest = [], n
        for value, numeral in _ROMAN:
            count, rest = divmod(rest, value)
            digits.append(numeral * count)
        roman = "".join(digits)
        return roman if fmt == "lowerRoman" else roman.upper()
    if fmt == "decimalZero" and n < 10:
        return f"0{n}"
    return str(n)


@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    num_id: str | None
    ilvl: int | None
    outline: int | None


@dataclass(frozen=True)
class ParagraphProps:
    heading: bool
    #: (numId, ilvl or None when the level comes from the list's style link).
    num: tuple[str, int | None] | None
    style: str | None


class Styles:
    """Paragraph styles: which make headings and which put paragraphs in lists."""

    def __init__(self, root: etree._Element | None) -> None:
        self._styles: dict[str, _Style] = {}
        self._resolved: dict[str | None, tuple[bool, str | None, int | None]] = {}
        self.default: str | None = None
        for style in [] if root is None else root.iter(W + "style"):
            style_id = style.get(W + "styleId")
            if not style_id:
                continue
            p_pr = style.find(W + "pPr")
            num_pr = None if p_pr is None else p_pr.find(W + "numPr")
            self._styles[style_id] = _Style(
                name=_val(style.find(W + "name")) or "",
                based_on=_val(style.find(W + "basedOn")),
                num_id=None if num_pr is None else _val(num_pr.find(W + "numId")),
                ilvl=None if num_pr is None else _int(num_pr.find(W + "ilvl")),
                outline=None if p_pr is None else _int(p_pr.find(W + "outlineLvl")),
            )
            if style.get(W + "type") == "paragraph" and on_attr(style.get(W + "default")):
                self.default = style_id

    def _chain(self, style_id: str | None) -> list[_Style]:
        """The style and the styles it is based on, nearest first (cycles cut)."""
        chain: list[_Style] = []
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self._styles:
            seen.add(style_id)
            style = self._styles[style_id]
            chain.append(style)
            style_id = style.based_on
        return chain

    def num_id(self, style_id: str) -> str | None:
        """The list a (numbering) style stands for."""
        return next((s.num_id for s in self._chain(style_id) if s.num_id is not None), None)

    def _resolve(self, style_id: str | None) -> tuple[bool, str | None, int | None]:
        """(heading, numId, ilvl) a style gives its paragraphs; cached, styles are few."""
        resolved = self._resolved.get(style_id)
        if resolved is None:
            chain = self._chain(style_id)
            heading = False
            for style in chain:
                if style.outline is not None:
                    heading = style.outline < LEVELS
                    break
                if _HEADING_NAME.fullmatch(style.name.strip()):
                    heading = True
                    break
            num_id = next((s.num_id for s in chain if s.num_id is not None), None)
            ilvl = next((s.ilvl for s in chain if s.ilvl is not None), None)
            resolved = self._resolved[style_id] = (heading, num_id, ilvl)
        return resolved

    def paragraph(self, p: etree._Element) -> ParagraphProps:
        """What the paragraph's own properties and its style make of it."""
        p_pr = first_child(p, W + "pPr")
        own = {} if p_pr is None else {c.tag: c for c in p_pr}
        style_id = _val(own.get(W + "pStyle")) or self.default
        heading, num_id, ilvl = self._resolve(style_id)
        outline = _int(own.get(W + "outlineLvl"))
        if outline is not None:
            heading = outline < LEVELS
        num_pr = own.get(W + "numPr")
        if num_pr is not None:
            fields = {c.tag: c for c in num_pr}
            num_id = _val(fields.get(W + "numId")) or num_id
            own_level = _int(fields.get(W + "ilvl"))
            ilvl = ilvl if own_level is None else own_level
        num = None if num_id in (None, "0") else (num_id, ilvl)
        return ParagraphProps(heading=heading, num=num, style=style_id)


@dataclass(frozen=True)
class _Level:
    start: int
    fmt: str
    text: str | None
    #: 1-based level whose use restarts this one; 0 never; None: any shallower level.
    restart: int | None
    legal: bool
    #: What follows the label: a tab or a space (shown as a space), or nothing.
    separator: str
    hidden: bool
    style: str | None


def _level(lvl: etree._Element) -> _Level:
    r_pr = lvl.find(W + "rPr")
    return _Level(
        # The schema's default start is 0, not 1.
        start=_int(lvl.find(W + "start"), 0) or 0,
        fmt=_val(lvl.find(W + "numFmt")) or "decimal",
        text=_val(lvl.find(W + "lvlText")),
        restart=_int(lvl.find(W + "lvlRestart")),
        legal=on(lvl.find(W + "isLgl")),
        separator="" if _val(lvl.find(W + "suff")) == "nothing" else " ",
        hidden=r_pr is not None and on(r_pr.find(W + "vanish")),
        style=_val(lvl.find(W + "pStyle")),
    )


def _levels(element: etree._Element) -> dict[int, _Level]:
    levels = {}
    for lvl in element.findall(W + "lvl"):
        ilvl = _int_attr(lvl.get(W + "ilvl"))
        if ilvl is not None and 0 <= ilvl < LEVELS:
            levels[ilvl] = _level(lvl)
    return levels


def _int_attr(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


@dataclass(frozen=True)
class _List:
    #: The abstract list, whose counters every `w:num` over it shares.
    key: str
    levels: dict[int, _Level]
    #: Levels this `w:num` restarts where it is first used, and their first value.
    restarts: dict[int, int]


class Numbering:
    """The list definitions of numbering.xml, resolved to levels per numId."""

    def __init__(self, root: etree._Element | None, styles: Styles) -> None:
        self._lists: dict[str, _List] = {}
        if root is None:
            return
        abstracts = {a.get(W + "abstractNumId"): a for a in root.iter(W + "abstractNum")}
        nums = {n.get(W + "numId"): n for n in root.iter(W + "num")}
        for num_id, num in nums.items():
            abstract_id = _val(num.find(W + "abstractNumId"))
            abstract = self._follow_style_links(abstracts, nums, abstract_id, styles)
            if num_id is None or abstract is None:
                continue
            levels = _levels(abstract)
            restarts = {}
            for override in num.findall(W + "lvlOverride"):
                ilvl = _int_attr(override.get(W + "ilvl"))
                if ilvl is None or not 0 <= ilvl < LEVELS:
                    continue
                lvl = override.find(W + "lvl")
                if lvl is not None:
                    levels[ilvl] = _level(lvl)
                    restarts[ilvl] = levels[ilvl].start
                start = _int(override.find(W + "startOverride"))
                if start is not None and ilvl in levels:
                    levels[ilvl] = replace(levels[ilvl], start=start)
                    restarts[ilvl] = start
            key = abstract.get(W + "abstractNumId") or ""
            self._lists[num_id] = _List(key=key, levels=levels, restarts=restarts)

    @staticmethod
    def _follow_style_links(
        abstracts: dict[str | None, etree._Element],
        nums: dict[str | None, etree._Element],
        abstract_id: str | None,
        styles: Styles,
    ) -> etree._Element | None:
        """An abstract list that is only a `w:numStyleLink` stands for the style's list."""
        for _ in range(LEVELS):
            abstract = abstracts.get(abstract_id)
            link = None if abstract is None else _val(abstract.find(W + "numStyleLink"))
            if link is None:
                return abstract
            num = nums.get(styles.num_id(link))
            abstract_id = None if num is None else _val(num.find(W + "abstractNumId"))
        return None

    def counter(self) -> ListCounter:
        """Fresh counters, for one stream of paragraphs (the body, a header, a note)."""
        return ListCounter(self._lists)


class ListCounter:
    """Counts list paragraphs in document order and labels each as Word would."""

    def __init__(self, lists: dict[str, _List]) -> None:
        self._lists = lists
        self._values: dict[str, list[int | None]] = {}
        self._used: set[tuple[str, int]] = set()

    def prefix(self, num_id: str, ilvl: int | None, style: str | None) -> str:
        """The label and its separator ("1.1 ", "(a) ", "• "), or "" when none shows."""
        lst = self._lists.get(num_id)
        if lst is None:
            return ""
        if ilvl is None:
            ilvl = next((i for i, lvl in lst.levels.items() if style and lvl.style == style), 0)
        level = lst.levels.get(ilvl)
        if level is None:
            return ""
        values = self._values.setdefault(lst.key, [None] * LEVELS)
        current = values[ilvl]
        if (num_id, ilvl) not in self._used and ilvl in lst.restarts:
            values[ilvl] = lst.restarts[ilvl]
        else:
            values[ilvl] = level.start if current is None else current + 1
        self._used.add((num_id, ilvl))
        for deeper in range(ilvl + 1, LEVELS):
            restart = lst.levels[deeper].restart if deeper in lst.levels else None
            if restart is None or restart > deeper:
                restart = deeper  # default, and Word ignores a restart level below itself
            if restart and ilvl < restart:
                values[deeper] = None
        if level.hidden:
            return ""
        if level.fmt == "bullet":
            return BULLET + level.separator
        template = level.text or ""
        if any(int(n) > ilvl + 1 for n in _PLACEHOLDER.findall(template)):
            return ""  # Word drops a template that shows a deeper level
        label = _PLACEHOLDER.sub(lambda m: self._shown(lst, values, int(m[1]) - 1, level), template)
        return label + level.separator if label.strip() else ""

    @staticmethod
    def _shown(lst: _List, values: list[int | None], index: int, current: _Level) -> str:
        level = lst.levels.get(index)
        if level is None:
            return ""
        value = values[index]
        number = level.start if value is None else value
        legal = current.legal and level.fmt != "none"
        return format_number(number, "decimal" if legal else level.fmt)
