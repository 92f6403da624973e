"""The parts of a .docx package, found through its relationships and parsed safely.

A Word file is an OPC package: the main document, its styles, numbering,
headers, footnotes and comments are parts that point to one another through
relationship files. Only the parts the text needs are read (through
`GuardedZip`, so images are never inflated), and every one is parsed by an
lxml parser that resolves no entities, loads no DTD, reaches no network and
keeps libxml2's depth and size limits. A part with a DTD refuses the whole file,
with a message that names the attack (an entity expansion, an external entity,
an external DTD): Word never writes a DTD, and entity tricks are all one could bring.

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
from desktop_app.errors import DocumentError, printable

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

_PARSER_OPTIONS = {
    "resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
    "remove_comments": True, "remove_pis": True,
}  # fmt: skip
#: Longest URL quoted from a DTD in a message.
MAX_QUOTED_URL = 100


class RefusedXml(ValueError):
    """A part with a DTD; `what` says what it would have brought ("contains an XML entity
    expansion (…)"), to follow "it" in a message."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Relationship:
    id: str
    #: The last segment of the relationship type ("styles", "header"); it is the
    #: same in the transitional and the strict vocabularies.
    kind: str
    #: Part name inside the package, e.g. "word/header1.xml".
    target: str


def parse_xml(data: bytes) -> etree._Element:
    """The root of an XML part. Raises `RefusedXml` for a part with a DTD, and lxml's
    `XMLSyntaxError` (a `ValueError`) for one that is not well-formed."""
    for strict, transitional in _STRICT_NAMES:
        data = data.replace(strict, transitional)
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError:
        # libxml2 stops a "billion laughs" at its amplification limit, even without
        # substituting entities: read the DTD again with a parser that goes on after errors.
        recovered = etree.fromstring(data, etree.XMLParser(recover=True, **_PARSER_OPTIONS))
        what = None if recovered is None else _dtd_threat(recovered.getroottree().docinfo)
        if what is not None:
            raise RefusedXml(what) from None
        raise
    what = _dtd_threat(root.getroottree().docinfo)
    if what is not None:
        raise RefusedXml(what)
    return root


def _dtd_threat(docinfo: etree.DocInfo) -> str | None:
    """What the part's DTD would bring, in words; None when it has no DTD."""
    if not docinfo.doctype:
        return None
    dtd = docinfo.internalDTD
    entities = list(dtd.iterentities()) if dtd is not None else []
    external = next((e.system_url for e in entities if e.system_url), None)
    if external:
        return f"contains an XML external entity (XXE) pointing to {_quoted(external)}"
    if docinfo.system_url:
        return f"refers to an external DTD at {_quoted(docinfo.system_url)}"
    if entities:
        return 'contains an XML entity expansion (a "billion laughs" attack)'
    return "declares a DTD, which Word never writes"


def _quoted(url: str) -> str:
    if len(url) > MAX_QUOTED_URL:
        url = url[:MAX_QUOTED_URL] + "…"
    return printable(url)


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
        """The parsed part, or None when the package does not have it. A part with a DTD
        is a `DocumentError` (the file is refused), never just a damaged part."""
        data = self._zip.read(part)
        if data is None:
            return None
        try:
            return parse_xml(data)
        except RefusedXml as exc:
            raise DocumentError(f"{self._zip.name} was not opened: it {exc.what}.") from None

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
