"""The parts of a .docx package, found through its relationships and parsed safely.

A Word file is an OPC package: the main document, its styles, numbering,
headers, footnotes and comments are parts that point to one another through
relationship files. Only the parts the text needs are read (through
`GuardedZip`, so images are never inflated), and every one is parsed by an
lxml parser that resolves no entities, loads no DTD, reaches no network and
keeps libxml2's depth and size limits; a part with a DTD is refused outright,
because Word never writes one and entity tricks are all a DTD could bring.

Files saved as "Strict Open XML" use other namespace names for the same
vocabulary; they are renamed to the transitional ones before parsing, so the
rest of the reader only knows one set.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote

from lxml import etree

from desktop_app.core.documents.zipguard import GuardedZip

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W = "{" + W_NS + "}"
R = "{" + R_NS + "}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"

_STRICT_NAMES = (
    (b"http://purl.oclc.org/ooxml/wordprocessingml/main", W_NS.encode()),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships", R_NS.encode()),
)

DEFAULT_MAIN_PART = "word/document.xml"


@dataclass(frozen=True)
class Relationship:
    id: str
    #: The last segment of the relationship type ("styles", "header"); it is the
    #: same in the transitional and the strict vocabularies.
    kind: str
    #: Part name inside the package, e.g. "word/header1.xml".
    target: str


def parse_xml(data: bytes) -> etree._Element:
    """The root of an XML part; raises `ValueError` for anything Word would not write."""
    for strict, transitional in _STRICT_NAMES:
        data = data.replace(strict, transitional)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    root = etree.fromstring(data, parser)
    if root.getroottree().docinfo.doctype:
        raise ValueError("XML part declares a DTD")
    return root


def first_child(element: etree._Element, tag: str) -> etree._Element | None:
    """The first child with `tag`: a plain loop, three times faster than lxml's `find`,
    which matters on paths taken for every run of a long document."""
    for candidate in element:
        if candidate.tag == tag:
            return candidate
    return None


class Package:
    """Parts of the package by name, and the relationships between them."""

    def __init__(self, zip_file: GuardedZip) -> None:
        self._zip = zip_file

    def xml(self, part: str) -> etree._Element | None:
        """The parsed part, or None when the package does not have it."""
        data = self._zip.read(part)
        return None if data is None else parse_xml(data)

    def relationships(self, part: str) -> list[Relationship]:
        """The internal relationships of `part` ("" for the package itself)."""
        folder, base = posixpath.split(part)
        root = self.xml(posixpath.join(folder, "_rels", f"{base}.rels"))
        if root is None:
            return []
        found = []
        for rel in root.iter(_REL):
            target = rel.get("Target")
            if not target or rel.get("TargetMode") == "External":
                continue
            target = unquote(target)
            if target.startswith("/"):
                name = target.lstrip("/")
            else:
                name = posixpath.normpath(posixpath.join(folder, target))
            kind = (rel.get("Type") or "").rsplit("/", 1)[-1]
            found.append(Relationship(id=rel.get("Id") or "", kind=kind, target=name))
        return found

    def main_part(self) -> str:
        for rel in self.relationships(""):
            if rel.kind == "officeDocument":
                return rel.target
        return DEFAULT_MAIN_PART

    def title(self) -> str | None:
        """The title from the core properties, when the author set one."""
        for rel in self.relationships(""):
            if rel.kind == "core-properties":
                root = self.xml(rel.target)
                node = None if root is None else root.find(_DC_TITLE)
                title = " ".join((node.text or "").split()) if node is not None else ""
                return title or None
        return None
