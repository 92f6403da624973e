"""WordprocessingML to the text a reader sees on the page, in document order.

Blocks are paragraphs and tables, walked as the body's XML children (python-
docx's `paragraphs` and `tables` lose their interleaving). What Word shows in
its "final" view is what comes out: inserted text yes, deleted text and field
instructions no, hidden runs no, field results and text boxes yes. List
labels come from `ListCounter`, footnote marks from `NoteMarks`, and the text
under each comment range is kept so a comment can say what it is about.

Tables become Markdown rows (`| a | b |`, a separator after the first row):
a merged cell's text appears once, in its first grid column, and a nested
table is flattened into its cell as "a / b; c / d".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from desktop_app.core.documents.docx_numbering import ListCounter, Styles, format_number, on
from desktop_app.core.documents.docx_package import W, first_child

_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_MATH = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
#: Elements that only wrap content: their children are read as if in their place.
_WRAPPERS = frozenset(
    W + tag
    for tag in ("hyperlink", "smartTag", "customXml", "fldSimple", "ins", "moveTo", "dir", "bdo")
)
_DELETED = frozenset((W + "del", W + "moveFrom"))
_RUN_TEXT = {W + "t": None, W + "tab": "\t", W + "ptab": "\t", W + "br": "\n", W + "cr": "\n",
             W + "noBreakHyphen": "-"}  # fmt: skip
#: Longest comment anchor kept: enough to say which words a comment is about.
MAX_ANCHOR_CHARS = 200
#: Comments whose anchors are collected; each costs work for every piece of
#: text until its anchor is full, so a hostile file cannot make that quadratic.
MAX_ANCHORED_COMMENTS = 10_000


@dataclass(frozen=True)
class Block:
    """A paragraph (its list label included) or a whole table, as lines of text."""

    text: str
    heading: bool


class NoteMarks:
    """Footnote and endnote marks numbered in order of first reference, as Word shows them."""

    FORMATS = {"footnote": "decimal", "endnote": "lowerRoman"}

    def __init__(self) -> None:
        self.order: dict[str, dict[str, str]] = {kind: {} for kind in self.FORMATS}

    def mark(self, kind: str, note_id: str) -> str:
        marks = self.order[kind]
        if note_id not in marks:
            marks[note_id] = f"[^{format_number(len(marks) + 1, self.FORMATS[kind])}]"
        return marks[note_id]


class Renderer:
    """Renders one stream of blocks (the body, a header, a note) with its own list counters."""

    def __init__(self, styles: Styles, counter: ListCounter, notes: NoteMarks) -> None:
        self._styles = styles
        self._counter = counter
        self._notes = notes
        self._table_depth = 0
        self._open_comments: dict[str, None] = {}
        #: Text under each comment's range, by comment id.
        self.anchors: dict[str, list[str]] = {}
        self.tracked_changes = False

    def text(self, container: etree._Element) -> str:
        """All blocks of `container` as lines of text."""
        return "\n".join(b.text for b in self.blocks(container) if b.text.strip())

    def blocks(self, container: etree._Element) -> Iterator[Block]:
        for child in container:
            if child.tag == W + "p":
                yield from self._paragraph(child)
            elif child.tag == W + "tbl":
                table = self._table(child)
                if table:
                    yield Block(table, heading=False)
            elif child.tag == W + "sdt":
                yield from self.blocks(_sdt_content(child))
            elif child.tag == W + "customXml":
                yield from self.blocks(child)
            elif child.tag in _DELETED:
                self.tracked_changes = True

    # Paragraphs

    def _paragraph(self, p: etree._Element) -> Iterator[Block]:
        pieces: list[str] = []
        boxes: list[etree._Element] = []
        self._inline(p, pieces, boxes)
        text = "".join(pieces).rstrip()
        if not text and _mark_deleted(p):
            self.tracked_changes = True
            return  # in the final view the empty paragraph is gone, number and all
        props = self._styles.paragraph(p)
        if props.num is not None:
            text = self._counter.prefix(props.num[0], props.num[1], props.style) + text
        self._add_to_comments("\n")
        yield Block(text, heading=props.heading)
        for box in boxes:
            for block in self.blocks(box):
                yield Block(block.text, heading=False)

    def _inline(self, parent: etree._Element, out: list[str], boxes: list[etree._Element]) -> None:
        for child in parent:
            tag = child.tag
            if tag == W + "r":
                self._run(child, out, boxes)
            elif tag in _WRAPPERS:
                self.tracked_changes |= tag in (W + "ins", W + "moveTo")
                self._inline(child, out, boxes)
            elif tag == W + "sdt":
                self._inline(_sdt_content(child), out, boxes)
            elif tag in _DELETED:
                self.tracked_changes = True
            elif tag == W + "commentRangeStart":
                comment_id = child.get(W + "id", "")
                if comment_id not in self.anchors and len(self.anchors) < MAX_ANCHORED_COMMENTS:
                    self.anchors[comment_id] = []
                    self._open_comments[comment_id] = None
            elif tag == W + "commentRangeEnd":
                self._close_comment(child.get(W + "id", ""))
            elif tag in (_MATH + "oMath", _MATH + "oMathPara"):
                self._emit(out, "".join(t.text or "" for t in child.iter(_MATH + "t")))
            elif tag == _MC + "AlternateContent":
                self._inline(_chosen(child), out, boxes)

    def _run(self, run: etree._Element, out: list[str], boxes: list[etree._Element]) -> None:
        r_pr = first_child(run, W + "rPr")
        if r_pr is not None and on(first_child(r_pr, W + "vanish")):
            return
        for child in run:
            tag = child.tag
            if tag in _RUN_TEXT:
                self._emit(out, _RUN_TEXT[tag] or child.text or "")
            elif tag in (W + "footnoteReference", W + "endnoteReference"):
                kind = "footnote" if tag == W + "footnoteReference" else "endnote"
                out.append(self._notes.mark(kind, child.get(W + "id", "")))
            elif tag in (W + "drawing", W + "pict", W + "object"):
                boxes.extend(_outermost(child, W + "txbxContent"))
            elif tag == _MC + "AlternateContent":
                boxes.extend(_outermost(_chosen(child), W + "txbxContent"))

    def _emit(self, out: list[str], text: str) -> None:
        out.append(text)
        self._add_to_comments(text)

    def _add_to_comments(self, text: str) -> None:
        for comment_id in list(self._open_comments):
            anchor = self.anchors[comment_id]
            anchor.append(text)
            if sum(map(len, anchor)) > MAX_ANCHOR_CHARS:
                self._close_comment(comment_id)  # enough to say what it is about

    def _close_comment(self, comment_id: str) -> None:
        self._open_comments.pop(comment_id, None)

    # Tables

    def _table(self, table: etree._Element) -> str:
        self._table_depth += 1
        try:
            rows = [self._row(tr) for tr in _children(table, W + "tr") if not _row_deleted(tr)]
        finally:
            self._table_depth -= 1
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if not rows:
            return ""
        if self._table_depth:
            return "; ".join(" / ".join(cell for cell in row if cell) for row in rows)
        width = max(len(row) for row in rows)
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
        lines.insert(1, "|" + " --- |" * width)
        return "\n".join(lines)

    def _row(self, tr: etree._Element) -> list[str]:
        tr_pr = first_child(tr, W + "trPr")
        cells = [""] * _grid(None if tr_pr is None else first_child(tr_pr, W + "gridBefore"), 0)
        for tc in _children(tr, W + "tc"):
            tc_pr = first_child(tc, W + "tcPr")
            merge = None if tc_pr is None else first_child(tc_pr, W + "vMerge")
            continued = merge is not None and merge.get(W + "val") != "restart"
            text = "" if continued else self._cell(tc)
            cells.append(text)
            cells.extend(
                [""] * (_grid(None if tc_pr is None else first_child(tc_pr, W + "gridSpan"), 1) - 1)
            )
        return cells

    def _cell(self, tc: etree._Element) -> str:
        """The cell's blocks on one line, with pipes escaped so the row stays a row."""
        text = " ".join(" ".join(b.text.split()) for b in self.blocks(tc) if b.text.strip())
        return text.replace("|", "\\|")


def _sdt_content(sdt: etree._Element) -> etree._Element:
    """A content control's content (its sdtPr, which holds no text, is left behind)."""
    content = first_child(sdt, W + "sdtContent")
    return etree.Element(W + "sdtContent") if content is None else content


def _chosen(alternate: etree._Element) -> etree._Element:
    """The branch of mc:AlternateContent Word shows: its first Choice, else the Fallback."""
    for tag in (_MC + "Choice", _MC + "Fallback"):
        branch = first_child(alternate, tag)
        if branch is not None:
            return branch
    return alternate


def _outermost(element: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Descendants with `tag` that are not inside another one (nested boxes render once)."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag == _MC + "AlternateContent":
            yield from _outermost(_chosen(child), tag)
        else:
            yield from _outermost(child, tag)


def _children(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Children with `tag`, also those wrapped in content controls or custom XML."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag == W + "sdt":
            yield from _children(_sdt_content(child), tag)
        elif child.tag == W + "customXml":
            yield from _children(child, tag)


def _grid(element: etree._Element | None, default: int) -> int:
    """A count of grid columns, kept small so a hostile value cannot blow a row up."""
    if element is None:
        return default
    try:
        return max(0, min(int(element.get(W + "val", "")), 64))
    except ValueError:
        return default


def _row_deleted(tr: etree._Element) -> bool:
    tr_pr = first_child(tr, W + "trPr")
    return tr_pr is not None and first_child(tr_pr, W + "del") is not None


def _mark_deleted(p: etree._Element) -> bool:
    """Whether the paragraph mark itself is a tracked deletion."""
    p_pr = first_child(p, W + "pPr")
    r_pr = None if p_pr is None else first_child(p_pr, W + "rPr")
    return r_pr is not None and first_child(r_pr, W + "del") is not None
