"""DOCX extraction: what the reader sees reaches the model, hostile files are refused.

Fixtures are generated (tests/fixtures/docx_factory.py); details python-docx
has no API for are written as the raw WordprocessingML Word writes.
"""

from __future__ import annotations

import io
import random
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.documents.docx import extract
from desktop_app.core.documents.docx_numbering import format_number
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.documents.model import Extracted
from desktop_app.core.documents.zipguard import MAX_MEMBERS
from desktop_app.errors import DocumentError
from tests.fixtures.docx_factory import (
    CONTRACT_COMMENT,
    CONTRACT_COMMENT_AUTHOR,
    CONTRACT_FOOTER,
    CONTRACT_FOOTNOTE,
    CONTRACT_HEADER,
    CONTRACT_TITLE,
    add_footnote,
    add_list,
    list_instance,
    make_contract_docx,
    make_many_members_zip,
    make_zip_bomb,
    number,
    read_part,
    replace_parts,
    to_bytes,
)

CONTRACT = make_contract_docx()
DAMAGED = "is damaged and cannot be read as a Word document"
_NAMESPACES = " ".join(
    f'xmlns:{prefix}="{uri}"'
    for prefix, uri in {
        "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
        "wps": "http://schemas.microsoft.com/office/word/2010/wordprocessingShape",
        "v": "urn:schemas-microsoft-com:vml",
        "m": "http://schemas.openxmlformats.org/officeDocument/2006/math",
    }.items()
)


def docx_with_body(body: str) -> bytes:
    """A python-docx package whose body is the given raw XML."""
    document = f"<w:document {_NAMESPACES}><w:body>{body}</w:body></w:document>"
    return replace_parts(to_bytes(docx.Document()), {"word/document.xml": document.encode()})


def all_text(result: Extracted) -> str:
    return "\n".join(f"{u.label or ''}\n{u.text}" for u in result.units)


def body_lines(data: bytes) -> list[str]:
    return [line for u in extract(data, name="t.docx").units for line in u.text.splitlines()]


# Sections, numbering, tables


def test_contract_becomes_labelled_sections():
    result = extract(CONTRACT, name="msa.docx")
    assert result.title == CONTRACT_TITLE
    assert result.warnings == ()
    assert [u.label for u in result.units] == [
        "Header and footer",
        None,
        "1. Definitions",
        "1.1 Interpretation",
        "1.2 Defined terms",
        "2. Services",
        "3. Payment",
        "3.1 Payment terms",
        "4. Term",
        "Footnotes",
        "Comments",
    ]
    assert all(u.kind == "section" and u.number is None for u in result.units)
    units = {u.label: u.text for u in result.units}
    assert units[None] == "This Agreement is made between ACME Corp and Globex Ltd."
    assert units["1.1 Interpretation"] == (
        "(a) headings do not affect interpretation;\n(b) the singular includes the plural."
    )
    assert units["1.2 Defined terms"] == '(a) "Services" means the services in clause 2.'
    assert units["4. Term"] == "This Agreement runs for three years."


def test_list_number_style_numbers_clauses():
    document = docx.Document()
    for text in ("Definitions", "Services", "Payment"):
        document.add_paragraph(text, style="List Number")
    document.add_paragraph("An item", style="List Bullet")
    assert body_lines(to_bytes(document)) == [
        "1. Definitions",
        "2. Services",
        "3. Payment",
        "• An item",
    ]


def test_nested_numbering_restarts_deeper_levels():
    document = docx.Document()
    clauses = add_list(document)
    for level, text in [(0, "Scope"), (1, "Goods"), (2, "new"), (2, "used"), (1, "Services"),
                        (2, "support"), (0, "Price"), (1, "Fees"), (2, "monthly")]:  # fmt: skip
        number(document.add_paragraph(text), clauses, level)
    assert body_lines(to_bytes(document)) == [
        "1. Scope",
        "1.1 Goods",
        "(a) new",
        "(b) used",
        "1.2 Services",
        "(a) support",
        "2. Price",
        "2.1 Fees",
        "(a) monthly",
    ]


def test_level_restart_zero_never_restarts():
    document = docx.Document()
    clauses = add_list(document, restart={2: 0})
    for level, text in [(0, "A"), (2, "x"), (1, "B"), (2, "y")]:
        number(document.add_paragraph(text), clauses, level)
    assert body_lines(to_bytes(document)) == ["1. A", "(a) x", "1.1 B", "(b) y"]


def test_restart_override_and_lists_sharing_a_definition():
    """numIds over one abstract list share its counter, as in Word; a restart resets it."""
    document = docx.Document()
    first = add_list(document, [("%1)", "lowerRoman")])
    restarted = list_instance(document, first, restart_at=1)
    continued = list_instance(document, first)
    for num_id, text in [(first, "one"), (first, "two"), (restarted, "again"),
                         (restarted, "more"), (first, "on"), (continued, "still")]:  # fmt: skip
        number(document.add_paragraph(text), num_id, 0)
    assert body_lines(to_bytes(document)) == [
        "i) one",
        "ii) two",
        "i) again",
        "ii) more",
        "iii) on",
        "iv) still",
    ]


def _last_abstract(document):
    return document.part.numbering_part.element.findall(qn("w:abstractNum"))[-1]


def test_heading_styles_linked_to_list_levels():
    """Word's heading numbering: levels name their style, styles name only the list."""
    document = docx.Document()
    articles = add_list(document, [("Article %1", "upperRoman"), ("Section %1.%2", "decimalZero")])
    level_0, level_1 = _last_abstract(document).findall(qn("w:lvl"))
    level_0.append(parse_xml(f'<w:pStyle {nsdecls("w")} w:val="Heading1"/>'))
    level_1.append(parse_xml(f'<w:pStyle {nsdecls("w")} w:val="Heading2"/>'))
    level_1.append(parse_xml(f"<w:isLgl {nsdecls('w')}/>"))  # legal: "1.1", not "I.01"
    for name in ("Heading 1", "Heading 2"):
        document.styles[name].element.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {nsdecls("w")}><w:numId w:val="{articles}"/></w:numPr>')
        )
    for text, level in [("Definitions", 1), ("Terms", 2), ("Scope", 1), ("Goods", 2)]:
        document.add_heading(text, level)
    result = extract(to_bytes(document), name="h.docx")
    assert [u.label for u in result.units] == [
        "Article I Definitions",
        "Section 1.1 Terms",
        "Article II Scope",
        "Section 2.1 Goods",
    ]


def test_list_defined_through_a_numbering_style():
    """An abstract list that is only a numStyleLink uses the linked list and its counters."""
    document = docx.Document()
    base = add_list(document)
    _last_abstract(document).append(parse_xml(f'<w:styleLink {nsdecls("w")} w:val="Clauses"/>'))
    document.styles.element.append(
        parse_xml(
            f'<w:style {nsdecls("w")} w:type="numbering" w:styleId="Clauses">'
            f'<w:name w:val="Clauses"/><w:pPr><w:numPr><w:numId w:val="{base}"/></w:numPr>'
            "</w:pPr></w:style>"
        )
    )
    linked = add_list(document, levels=())
    _last_abstract(document).append(parse_xml(f'<w:numStyleLink {nsdecls("w")} w:val="Clauses"/>'))
    number(document.add_paragraph("first"), base, 0)
    number(document.add_paragraph("second"), linked, 0)
    number(document.add_paragraph("detail"), linked, 1)
    assert body_lines(to_bytes(document)) == ["1. first", "2. second", "2.1 detail"]


def test_numbering_formats():
    assert [format_number(n, "lowerLetter") for n in (1, 26, 27, 28)] == ["a", "z", "aa", "bb"]
    assert [format_number(n, "upperRoman") for n in (4, 9, 14, 1994)] == [
        "IV",
        "IX",
        "XIV",
        "MCMXCIV",
    ]
    assert format_number(7, "decimalZero") == "07"
    assert format_number(3, "bullet") == "•"
    assert format_number(3, "none") == ""
    assert format_number(3, "chineseCounting") == "3"


def test_table_rows_appear_between_the_paragraphs_around_it():
    document = docx.Document()
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=4, cols=3)
    table.cell(0, 0).text, table.cell(0, 1).text, table.cell(0, 2).text = "Item", "Qty", "Note"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "Wide"
    table.cell(1, 2).text = "first line\nsecond line"
    table.cell(2, 0).merge(table.cell(3, 0)).text = "Tall"
    table.cell(2, 1).text = "a | b"
    nested = table.cell(3, 2).add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "n1", (0, 1): "n2", (1, 0): "n3", (1, 1): "n4"}.items():
        nested.cell(r, c).text = text
    document.add_paragraph("After the table.")
    assert body_lines(to_bytes(document)) == [
        "Before the table.",
        "| Item | Qty | Note |",
        "| --- | --- | --- |",
        "| Wide |  | first line second line |",
        "| Tall | a \\| b |  |",
        "|  |  | n1 / n2; n3 / n4 |",
        "After the table.",
    ]


def test_contract_table_is_in_its_section():
    units = {u.label: u.text for u in extract(CONTRACT, name="msa.docx").units}
    assert units["2. Services"].splitlines()[1:] == [
        "| Service | Fee |",
        "| --- | --- |",
        "| Hosting | EUR 1,000 per month |",
        "| Support | EUR 500 per month |",
        "Fees are exclusive of VAT.",
    ]


def test_headings_by_style_outline_level_and_title():
    document = docx.Document()
    document.add_paragraph("Preamble")
    document.add_heading("Agreement", 0)  # the Title style
    document.add_heading("Scope", 1)
    document.add_paragraph("Scope text")
    outlined = document.add_paragraph("Annex A")
    outlined._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="0"/>'))
    document.add_paragraph("Annex text")
    document.add_heading("", 2)  # an empty heading starts nothing
    document.add_paragraph("More annex text")
    result = extract(to_bytes(document), name="h.docx")
    assert [(u.label, u.text) for u in result.units] == [
        (None, "Preamble"),
        ("Agreement", ""),
        ("Scope", "Scope text"),
        ("Annex A", "Annex text\nMore annex text"),
    ]


def test_clause_styled_as_heading_gets_a_short_label():
    document = docx.Document()
    clause = "The Supplier shall indemnify the Customer against all losses " * 6
    document.add_heading(clause, 1)
    document.add_paragraph("Body.")
    (unit,) = extract(to_bytes(document), name="h.docx").units
    assert unit.label.endswith(" …") and len(unit.label) <= 202
    assert unit.text == clause.rstrip() + "\nBody."


# Header, footer, notes, comments


def test_header_and_footer_appear_once_first():
    result = extract(CONTRACT, name="msa.docx")
    assert result.units[0].label == "Header and footer"
    assert result.units[0].text == f"{CONTRACT_HEADER}\n{CONTRACT_FOOTER}"
    text = all_text(result)
    assert text.count(CONTRACT_HEADER) == 1
    assert text.count(CONTRACT_FOOTER) == 1


def test_footnote_and_comment():
    result = extract(CONTRACT, name="msa.docx")
    units = {u.label: u.text for u in result.units}
    assert "The Supplier shall provide the Services below.[^1]" in units["2. Services"]
    assert units["Footnotes"] == f"[^1] {CONTRACT_FOOTNOTE}"
    assert units["Comments"] == (
        f'Comment by {CONTRACT_COMMENT_AUTHOR} on "Invoices are payable within 30 days of '
        f'receipt.": {CONTRACT_COMMENT}'
    )


def test_footnotes_numbered_in_order_of_reference():
    document = docx.Document()
    first = document.add_paragraph("First claim.")
    second = document.add_paragraph("Second claim.")
    add_footnote(document, second, "Note made first.")
    add_footnote(document, first, "Note made second.")
    units = {u.label: u.text for u in extract(to_bytes(document), name="n.docx").units}
    assert units[None] == "First claim.[^1]\nSecond claim.[^2]"
    assert units["Footnotes"] == "[^1] Note made second.\n[^2] Note made first."


def test_no_empty_extra_units():
    document = docx.Document()
    document.add_paragraph("Just text.")
    result = extract(to_bytes(document), name="plain.docx")
    assert [(u.label, u.text) for u in result.units] == [(None, "Just text.")]
    assert result.title is None


# What the final view shows


def test_tracked_changes_fields_hidden_text_and_text_boxes():
    run = '<w:r><w:t xml:space="preserve">{}</w:t></w:r>'
    box = "<w:txbxContent><w:p><w:r><w:t>Boxed text</w:t></w:r></w:p></w:txbxContent>"
    body = (
        "<w:p>" + run.format("Fee is ")
        + '<w:del w:id="1" w:author="X"><w:r><w:delText>EUR 100</w:delText></w:r></w:del>'
        + '<w:ins w:id="2" w:author="X"><w:r><w:t>EUR 200</w:t></w:r></w:ins></w:p>'
        + "<w:p>" + run.format("Page ")
        + '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r>'
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' + run.format("7")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        + '<w:r><w:rPr><w:vanish/></w:rPr><w:t>secret</w:t></w:r></w:p>'
        + '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp>'
        + f"<wps:txbx>{box}</wps:txbx></wps:wsp></w:drawing></mc:Choice><mc:Fallback><w:pict>"
        + f"<v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>"
        + "</mc:AlternateContent></w:r>" + run.format("Anchor") + "</w:p>"
        + '<w:p><w:pPr><w:rPr><w:del w:id="3" w:author="X"/></w:rPr></w:pPr></w:p>'
        + "<w:p><m:oMath><m:r><m:t>x=1</m:t></m:r></m:oMath></w:p>"
    )  # fmt: skip
    result = extract(docx_with_body(body), name="redline.docx")
    assert result.units[0].text == "Fee is EUR 200\nPage 7\nAnchor\nBoxed text\nx=1"
    assert result.warnings == (
        "redline.docx has tracked changes; Folio reads it as if all were accepted.",
    )


def test_strict_open_xml_reads_like_transitional():
    strict = read_part(CONTRACT, "word/document.xml").replace(
        b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        b"http://purl.oclc.org/ooxml/wordprocessingml/main",
    )
    result = extract(replace_parts(CONTRACT, {"word/document.xml": strict}), name="s.docx")
    assert result.units == extract(CONTRACT, name="s.docx").units


def test_damaged_numbering_costs_only_the_numbers():
    data = replace_parts(CONTRACT, {"word/numbering.xml": b"<w:numbering"})
    result = extract(data, name="msa.docx")
    assert result.warnings == (
        "The numbering part of msa.docx is damaged; list numbers are missing.",
    )
    assert "Definitions" in [u.label for u in result.units]


# Hostile and damaged files


def _refused_quickly(data: bytes, match: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DocumentError, match=match):
            extract(data, name="bomb.docx")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 200 * 1024 * 1024


def test_zip_bomb_is_refused_by_declared_size():
    bomb = make_zip_bomb(1024**3)
    assert len(bomb) < 2 * 1024 * 1024
    _refused_quickly(
        bomb, r"bomb.docx looks like a ZIP bomb \(word/document.xml unpacks to 1,024 MB"
    )


def test_zip_bomb_with_lying_sizes_is_refused_after_the_declared_size():
    bomb = make_zip_bomb(3 * 1024**3, declared=4096)
    _refused_quickly(bomb, r"unpacks to more than the 4,096 bytes it declares\); Folio will not")


def test_zip_bomb_is_refused_by_compression_ratio():
    _refused_quickly(make_zip_bomb(60 * 1024**2), r"ZIP bomb \(word/document.xml is compressed")


def test_zip_with_too_many_members_is_refused():
    _refused_quickly(make_many_members_zip(MAX_MEMBERS + 1), r"ZIP bomb \(10,002 files inside")


def test_entity_expansion_is_not_performed():
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    document = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY l0 "lol">{laughs}]>'
        f"<w:document {_NAMESPACES}><w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body>"
        "</w:document>"
    )
    data = replace_parts(CONTRACT, {"word/document.xml": document.encode()})
    started = time.perf_counter()
    with pytest.raises(DocumentError, match=r'it contains an XML entity expansion \(a "billion'):
        extract(data, name="laughs.docx")
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "data",
    [
        random.Random(1).randbytes(5000),
        b"PK\x03\x04" + random.Random(2).randbytes(5000),
        CONTRACT[: len(CONTRACT) // 2],
        replace_parts(CONTRACT, {"word/document.xml": b"<w:document><w:body>"}),
        replace_parts(CONTRACT, {"word/document.xml": b"not xml at all"}),
        replace_parts(CONTRACT, {"word/document.xml": b"<root/>"}),
    ],
    ids=["random", "pk-random", "truncated", "unclosed-xml", "not-xml", "no-body"],
)
def test_damaged_files_are_refused(data: bytes):
    with pytest.raises(DocumentError, match=f"x.docx {DAMAGED}"):
        extract(data, name="x.docx")


def test_package_without_document_part_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
    with pytest.raises(DocumentError, match=DAMAGED):
        extract(out.getvalue(), name="x.docx")


_MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "insert"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.binary(min_size=1, max_size=16),
)
_FUZZ = settings(
    max_examples=100, deadline=5000, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, extra in mutations:
        at = int(where * len(data)) if data else 0
        if kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (extra[0] or 0xFF)]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        else:
            data = data[:at] + extra + data[at:]
    return data


def _extracts_or_refuses(data: bytes) -> None:
    try:
        result = extract(data, name="fuzz.docx")
    except DocumentError:
        return
    assert isinstance(result, Extracted)


@_FUZZ
@given(st.lists(_MUTATION, min_size=1, max_size=5))
def test_mutated_bytes_extract_or_refuse(mutations):
    _extracts_or_refuses(_mutate(CONTRACT, mutations))


_PARTS = ["word/document.xml", "word/numbering.xml", "word/styles.xml", "word/footnotes.xml",
          "word/comments.xml", "word/_rels/document.xml.rels", "_rels/.rels"]  # fmt: skip


@_FUZZ
@given(st.sampled_from(_PARTS), st.lists(_MUTATION, min_size=1, max_size=5))
def test_mutated_xml_parts_extract_or_refuse(part, mutations):
    xml = _mutate(read_part(CONTRACT, part), mutations)
    _extracts_or_refuses(replace_parts(CONTRACT, {part: xml}))


_ATTRIBUTE = re.compile(r'w:(?:val|ilvl|numId|abstractNumId|id)="([^"]*)"')


@_FUZZ
@given(
    st.sampled_from(_PARTS[:3]),
    st.lists(
        st.tuples(st.integers(min_value=0), st.text("-0123456789aZ%", max_size=12)),
        min_size=1,
        max_size=20,
    ),
)
def test_odd_attribute_values_extract_or_refuse(part, changes):
    """Well-formed XML with hostile values (ilvl="-3", gridSpan="99999999", numId="%")."""
    xml = read_part(CONTRACT, part).decode()
    spans = [m.span(1) for m in _ATTRIBUTE.finditer(xml)]
    new_values = {spans[index % len(spans)]: value for index, value in changes}
    for (start, end), value in sorted(new_values.items(), reverse=True):
        xml = xml[:start] + value + xml[end:]
    _extracts_or_refuses(replace_parts(CONTRACT, {part: xml.encode()}))


def test_the_library_reads_docx_files(tmp_path: Path):
    path = tmp_path / "msa.docx"
    path.write_bytes(CONTRACT)
    document = DocumentLibrary().read(path)  # parsed in the reader child, as the app does
    assert document.type == "docx"
    assert document.title == CONTRACT_TITLE
    assert "§ 3.1 Payment terms\nInvoices are payable within 30 days" in document.model_text()
