"""Word documents (.docx) to section units, with everything the reader sees.

Contracts and specs are cited by clause number and heading, so the units are
sections: every heading starts one, labelled with the heading as printed,
list number included ("12.3 Payment terms"); text before the first heading
is a unit without a label. Around the body, in this order:

- "Header and footer" (first): the text of each distinct header and footer
  once, however many sections repeat it;
- the body's sections;
- "Footnotes" and "Endnotes": each note behind the mark the text shows
  ("[^1] ...", "[^i] ..."), numbered in order of reference as Word does;
- "Comments": "Comment by A. Author on "the commented words": text".

The archive is judged by `GuardedZip` before any XML is parsed, and only the
parts the text needs are inflated (python-docx would load every part, images
included, and still not compute list numbers, notes or tracked changes).
The main document must be readable; a damaged optional part (styles,
numbering, notes, comments, a header) costs only that part, and a warning
says what is missing. No exception but `DocumentError` leaves `extract`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from lxml import etree

from desktop_app.core.documents.docx_numbering import Numbering, Styles
from desktop_app.core.documents.docx_package import Package, R, Relationship, W
from desktop_app.core.documents.docx_text import MAX_ANCHOR_CHARS, Block, NoteMarks, Renderer
from desktop_app.core.documents.model import Extracted, Unit
from desktop_app.core.documents.zipguard import GuardedZip
from desktop_app.errors import DocumentError

log = logging.getLogger(__name__)

#: A "heading" longer than this is a clause someone styled as a heading: its
#: unit is labelled with its start, and the full text opens the unit.
MAX_LABEL_CHARS = 200

HEADER_FOOTER_LABEL = "Header and footer"
NOTE_LABELS = {"footnote": "Footnotes", "endnote": "Endnotes"}
COMMENTS_LABEL = "Comments"


def extract(data: bytes, *, name: str) -> Extracted:
    """The sections, notes and comments of the .docx in `data`; `name` is for messages.

    Raises `DocumentError` for a ZIP bomb, a part with a DTD (entity expansion, external
    entity, external DTD: each named in the message) or a file that is not a readable
    Word document.
    """
    try:
        return _Reader(data, name).extract()
    except DocumentError:
        raise
    except Exception:  # zipfile, zlib and lxml raise many kinds on damaged input
        log.debug("%s cannot be read as DOCX", name, exc_info=True)
        raise DocumentError(f"{name} is damaged and cannot be read as a Word document.") from None


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self._name = name
        self._package = Package(GuardedZip(data, name))
        self._warnings: list[str] = []

    def extract(self) -> Extracted:
        main = self._package.main_part()
        document = self._package.xml(main)
        body = None if document is None else document.find(W + "body")
        if body is None:
            raise ValueError(f"{main} has no w:body")
        rels = self._relationships(main)
        styles = Styles(self._part(rels, "styles", "headings and list numbers may be missing"))
        numbering = Numbering(self._part(rels, "numbering", "list numbers are missing"), styles)

        notes = NoteMarks()
        body_renderer = Renderer(styles, numbering.counter(), notes)
        sections = _sections(body_renderer.blocks(body))
        if body_renderer.tracked_changes:
            self._warnings.append(
                f"{self._name} has tracked changes; Folio reads it as if all were accepted."
            )

        units: list[Unit] = []
        headers = self._headers_and_footers(document, rels, styles, numbering, notes)
        if headers:
            units.append(_unit(HEADER_FOOTER_LABEL, headers))
        units.extend(sections)
        for kind, label in NOTE_LABELS.items():
            text = self._notes(kind, rels, styles, numbering, notes)
            if text:
                units.append(_unit(label, text))
        comments = self._comments(rels, styles, numbering, notes, body_renderer.anchors)
        if comments:
            units.append(_unit(COMMENTS_LABEL, comments))
        return Extracted(units=tuple(units), title=self._title(), warnings=tuple(self._warnings))

    # Optional parts: a damaged one is left out with a warning.

    def _relationships(self, part: str) -> dict[str, Relationship]:
        try:
            return {rel.id: rel for rel in self._package.relationships(part)}
        except DocumentError:
            raise
        except Exception:
            log.debug("relationships of %s unreadable", part, exc_info=True)
            self._warn("relationships", "headers, footers, notes and comments are missing")
            return {}

    def _part(
        self, rels: dict[str, Relationship], kind: str, consequence: str
    ) -> etree._Element | None:
        """The first part related to the document as `kind`, or None."""
        rel = next((r for r in rels.values() if r.kind == kind), None)
        return None if rel is None else self._xml(rel.target, kind, consequence)

    def _xml(self, part: str, what: str, consequence: str) -> etree._Element | None:
        try:
            return self._package.xml(part)
        except DocumentError:
            raise
        except Exception:
            log.debug("%s unreadable", part, exc_info=True)
            self._warn(what, consequence)
            return None

    def _warn(self, what: str, consequence: str) -> None:
        self._warnings.append(f"The {what} part of {self._name} is damaged; {consequence}.")

    def _title(self) -> str | None:
        try:
            return self._package.title()
        except DocumentError:
            raise
        except Exception:  # the title only names the document; its loss needs no warning
            log.debug("core properties of %s unreadable", self._name, exc_info=True)
            return None

    def _headers_and_footers(
        self,
        document: etree._Element,
        rels: dict[str, Relationship],
        styles: Styles,
        numbering: Numbering,
        notes: NoteMarks,
    ) -> str:
        """Each distinct header and footer text once, in order of first reference."""
        seen_parts: set[str] = set()
        texts: dict[str, None] = {}
        for ref in document.iter(W + "headerReference", W + "footerReference"):
            rel = rels.get(ref.get(R + "id", ""))
            if rel is None or rel.target in seen_parts:
                continue
            seen_parts.add(rel.target)
            root = self._xml(rel.target, rel.kind, "its text is missing")
            if root is not None:
                texts[Renderer(styles, numbering.counter(), notes).text(root).strip()] = None
        return "\n".join(text for text in texts if text)

    def _notes(
        self,
        kind: str,
        rels: dict[str, Relationship],
        styles: Styles,
        numbering: Numbering,
        notes: NoteMarks,
    ) -> str:
        """The referenced notes of `kind`, each behind its mark, in mark order."""
        marks = notes.order[kind]
        if not marks:
            return ""
        root = self._part(rels, f"{kind}s", f"the {kind} texts are missing")
        if root is None:
            return ""
        by_id = {note.get(W + "id"): note for note in root.iter(W + kind)}
        renderer = Renderer(styles, numbering.counter(), notes)
        lines = []
        for note_id, mark in list(marks.items()):
            note = by_id.get(note_id)
            text = "" if note is None else " ".join(renderer.text(note).split())
            if text:
                lines.append(f"{mark} {text}")
        return "\n".join(lines)

    def _comments(
        self,
        rels: dict[str, Relationship],
        styles: Styles,
        numbering: Numbering,
        notes: NoteMarks,
        anchors: dict[str, list[str]],
    ) -> str:
        root = self._part(rels, "comments", "the comments are missing")
        if root is None:
            return ""
        renderer = Renderer(styles, numbering.counter(), notes)
        lines = []
        for comment in root.iter(W + "comment"):
            text = " ".join(renderer.text(comment).split())
            if not text:
                continue
            author = " ".join((comment.get(W + "author") or "").split()) or "an unknown author"
            anchor = " ".join("".join(anchors.get(comment.get(W + "id", ""), [])).split())
            if len(anchor) > MAX_ANCHOR_CHARS:
                anchor = anchor[:MAX_ANCHOR_CHARS].rstrip() + "…"
            about = f' on "{anchor}"' if anchor else ""
            lines.append(f"Comment by {author}{about}: {text}")
        return "\n".join(lines)


def _sections(blocks: Iterable[Block]) -> list[Unit]:
    """One unit per heading, plus one without a label for text before the first."""
    units: list[Unit] = []
    label: str | None = None
    lines: list[str] = []
    for block in blocks:
        if not block.text.strip():
            continue
        if not block.heading:
            lines.append(block.text)
            continue
        if label is not None or lines:
            units.append(_unit(label, "\n".join(lines)))
        label = " ".join(block.text.split())
        lines = []
        if len(label) > MAX_LABEL_CHARS:
            lines.append(block.text)
            label = label[:MAX_LABEL_CHARS].rsplit(" ", 1)[0] + " …"
    if label is not None or lines:
        units.append(_unit(label, "\n".join(lines)))
    return units


def _unit(label: str | None, text: str) -> Unit:
    return Unit(kind="section", number=None, label=label, text=text)
