"""Text-based documents: faithful decoding, binary refusal, and sections a citation can name."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.documents import read_file
from desktop_app.core.documents.model import Document, Extracted, Unit
from desktop_app.core.documents.text import decode_text, extract
from desktop_app.errors import DocumentError

PRIX = "Prix: 42 € — clause 3.1"
FRENCH = "Le café coûte 3 € à Zürich ; « déjà vu » — une façade naïve, œuvre d’un maître."
GERMAN = "Grüße aus München! Der Käufer zahlt den Kaufpreis binnen 14 Tagen. Señor Ñúñez."
JAPANESE = (
    "本契約は、甲と乙の間で締結される。"
    "第一条（定義）本契約において使用する用語の意味は次のとおりとする。"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PRIX.encode("utf-8"), PRIX),
        (codecs.BOM_UTF8 + PRIX.encode("utf-8"), PRIX),
        (codecs.BOM_UTF16_LE + PRIX.encode("utf-16-le"), PRIX),
        (codecs.BOM_UTF16_BE + PRIX.encode("utf-16-be"), PRIX),
        (PRIX.encode("utf-16"), PRIX),
        (PRIX.encode("utf-32"), PRIX),
        (PRIX.encode("cp1252"), PRIX),
        (FRENCH.encode("cp1252"), FRENCH),
        (GERMAN.encode("latin-1"), GERMAN),
        (JAPANESE.encode("shift_jis"), JAPANESE),
        ("Договор купли-продажи заключён в Москве.".encode("cp1251"), None),
    ],
    ids=[
        "utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-16", "utf-32", "cp1252-short",
        "cp1252", "latin-1", "shift-jis", "cp1251",
    ],
)  # fmt: skip
def test_encodings(data: bytes, expected: str | None):
    expected = expected or data.decode("cp1251")
    assert decode_text(data, "doc.txt") == expected


@pytest.mark.parametrize("note", ["5 €", "€", "Total: 5 €", "Prix: 12€", "Zürich 12 €"])
def test_a_tiny_windows_1252_note_stays_western(note: str):
    """A held-out note with one or two non-ASCII bytes once decoded as Cyrillic ("5 А")."""
    assert decode_text(note.encode("cp1252"), "note.txt") == note


def test_newlines_are_normalised():
    assert decode_text(b"a\r\nb\rc\nd", "doc.txt") == "a\nb\nc\nd"
    assert decode_text("a\r\nb".encode("utf-16"), "doc.txt") == "a\nb"


def test_legacy_encoding_found_deep_in_a_large_file():
    """Only a sample goes to charset-normalizer, but the whole file is decoded."""
    ascii_part = b"Plain ASCII line of a long contract, nothing special here.\n" * 40_000
    data = ascii_part + FRENCH.encode("cp1252") + b"\n" + ascii_part + GERMAN.encode("cp1252")
    text = decode_text(data, "big.txt")
    assert FRENCH in text and text.endswith(GERMAN)
    assert len(text) == len(data)


def test_utf8_with_a_cut_off_last_character_stays_utf8():
    data = ("Ünïcödé text ✓ " * 20).encode("utf-8")[:-2]
    assert decode_text(data, "doc.txt").startswith("Ünïcödé text ✓ Ünïcödé")


@pytest.mark.parametrize(
    "data",
    [
        b"abc\x00\x01\x02",
        b"PK\x03\x04" + bytes(range(256)) * 4,
        random.Random(7).randbytes(4096),
        bytes(range(0x80, 0x100)) * 8,
        "text".encode("utf-16-le"),  # UTF-16 without a BOM: NULs, refused
    ],
    ids=["nul", "zip-like", "random", "high-bytes", "utf-16-no-bom"],
)
def test_binary_is_refused(data: bytes):
    with pytest.raises(DocumentError, match="doc.txt looks like a binary file, not text"):
        decode_text(data, "doc.txt")
    with pytest.raises(DocumentError, match="binary"):
        extract(data, kind="text", name="doc.txt")


def test_plain_text_is_one_section():
    notes = "Just some notes.\n\nNothing numbered.\n"
    ex = extract(notes.encode(), kind="text", name="n.txt")
    assert ex == Extracted(units=(Unit("section", None, None, notes),))


def test_csv_is_kept_as_is():
    data = b'name,amount\r\n"Smith, J.",42\r\nM\xfcller,7\r\n'
    ex = extract(data, kind="csv", name="t.csv")
    assert ex.units == (Unit("section", None, None, 'name,amount\n"Smith, J.",42\nMüller,7\n'),)


CONTRACT = """\
MASTER SERVICES AGREEMENT

This Agreement is made between Acme Ltd and Beta GmbH.

1. Definitions
In this Agreement the following terms have the meanings below.
1.1 "Services" means the services described in Schedule 1, as amended from time to time by
both parties in writing.

12.3 Payment terms
The Client pays each invoice within 30 days.

Section 2.1 — Fees
Fees are listed in Schedule 2.

§ 7 Liability
Neither party is liable for indirect loss.

ARTICLE IV
Termination.
"""


def test_numbered_clauses_become_sections():
    units = extract(CONTRACT.encode(), kind="text", name="msa.txt").units
    assert [u.label for u in units] == [
        None, "1. Definitions", "12.3 Payment terms", "Section 2.1 — Fees", "7 Liability",
        "ARTICLE IV",
    ]  # fmt: skip
    assert units[0].text.startswith("MASTER SERVICES AGREEMENT")
    assert units[1].text.startswith("In this Agreement") and '1.1 "Services"' in units[1].text
    assert units[2].text == "The Client pays each invoice within 30 days."
    doc = Document(Path("msa.txt"), "0" * 64, "MSA", "text", units)
    assert "§ 12.3 Payment terms\nThe Client pays" in doc.model_text()
    assert "§ 7 Liability\nNeither party" in doc.model_text()


@pytest.mark.parametrize(
    "prose",
    [
        # Numbers at line starts that are sentences, years and quantities, not headings.
        "Our year in review.\nIn 2024. we grew.\n2024. we expanded into Europe.\n"
        "2. we then hired twelve people.\n3 people joined the board.\n"
        "1. First, we gathered all the data and cleaned it very carefully.\nThen more.\n"
        "2. Then we trained.\nAnd more.\n1.5 kg of flour was enough.\nThe end.\n",
        # One heading-like line is not a structure.
        "1. Introduction\nThis is a short essay about nothing in particular.\n",
        # A bare numbered list: no body under its items.
        "Shopping:\n1. Apples\n2. Pears\n3. Bread\n",
        # A long numbered paragraph is body text, not a heading.
        "1. " + "The Supplier shall deliver the goods in good order and condition " * 3 + "\n"
        "2. " + "The Customer shall inspect the goods promptly upon their delivery " * 3 + "\n",
    ],
    ids=["sentences", "single-heading", "bare-list", "long-paragraphs"],
)
def test_ordinary_prose_is_not_split(prose: str):
    for kind in ("text", "code"):
        units = extract(prose.encode(), kind=kind, name="p.txt").units
        assert units == (Unit("section", None, None, prose),)


def test_markdown_sections():
    md = (
        "Preamble text.\n\n# Title #\nBody one.\n\n```sh\n# a shell comment\n```\n\n"
        "## Sub *part*\nBody two.\n#hashtag is no heading\n####### nor this\n"
    )
    units = extract(md.encode(), kind="markdown", name="r.md").units
    assert units == (
        Unit("section", None, None, "Preamble text."),
        Unit("section", None, "Title", "Body one.\n\n```sh\n# a shell comment\n```"),
        Unit("section", None, "Sub *part*", "Body two.\n#hashtag is no heading\n####### nor this"),
    )


def test_markdown_without_headings_is_one_section():
    units = extract(b"just text\n", kind="markdown", name="r.md").units
    assert units == (Unit("section", None, None, "just text\n"),)


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title> Terms &amp; Conditions </title>
<style>p { color: red }</style><script>var s = "<p>hidden</p>";</script></head>
<body><nav>Home</nav><p>Intro: caf&eacute; &lt;ok&gt; &#8364;5&nbsp;net</p>
<h1>1. Scope of <b>work</b></h1><p>First   paragraph
   wraps.</p><p>Second<br>line</p>
<ul><li>one</li><li> two <i>items</i></li></ul>
<table><tr><th>Item</th><th>Price | EUR</th></tr><tr><td>Tea</td><td>3</td></tr></table>
<h2>2. Fees</h2>Fees apply.<script>alert("x")</script><pre>  keep
    indent</pre>
</body></html>"""


def test_html_text_sections_and_title():
    ex = extract(PAGE.encode(), kind="html", name="t.html")
    assert ex.title == "Terms & Conditions"
    assert [u.label for u in ex.units] == [None, "1. Scope of work", "2. Fees"]
    assert ex.units[0].text == "Home\nIntro: café <ok> €5 net"  # &nbsp; is just a space
    assert ex.units[1].text == (
        "First paragraph wraps.\nSecond\nline\n- one\n- two items\n"
        "| Item | Price \\| EUR |\n| --- | --- |\n| Tea | 3 |"
    )
    assert ex.units[2].text == "Fees apply.\n  keep\n    indent"
    everything = " ".join(u.text for u in ex.units)
    assert "color" not in everything and "hidden" not in everything and "alert" not in everything


@pytest.mark.parametrize(
    "html",
    [
        "<h1>Unclosed heading<p>Body text",
        "<title>T<p>Body text",
        "<table><tr><td>a<td>b<tr><td>c</table>Body text",
        "<![foo[ x ]]>Body text",
        "<![ bad>Body text",
        "<table><tr><td><table><tr><td>in</td></tr></table></td></tr>Body text",
    ],
)
def test_malformed_html_still_yields_text(html: str):
    ex = extract(html.encode(), kind="html", name="m.html")
    assert "Body text" in " ".join(u.text for u in ex.units)


def test_html_without_text_has_no_units():
    assert extract(b"<html><head><title>x</title></head></html>", kind="html", name="e.html") == (
        Extracted(units=(), title="x")
    )


# Moved from the old load_attachment tests: reading the file is now documents.read_file's job.
def test_read_file_refusals(tmp_path: Path):
    (tmp_path / "empty.txt").write_bytes(b"  \n\t ")
    with pytest.raises(DocumentError, match="is empty"):
        read_file(tmp_path / "empty.txt", 1024)
    with pytest.raises(DocumentError, match="is a folder"):
        read_file(tmp_path, 1024)
    with pytest.raises(DocumentError, match="File not found"):
        read_file(tmp_path / "nope.txt", 1024)


KINDS = ("text", "code", "csv", "markdown", "html")
MARKUP = st.text(alphabet="<>/!&#;[]-=\"' \n\r\t#`~§.123abhtdrlipe\x00é€", max_size=300)


@settings(max_examples=150, deadline=1000)
@given(data=st.one_of(st.binary(max_size=600), MARKUP.map(str.encode)), kind=st.sampled_from(KINDS))
def test_any_bytes_give_units_or_a_document_error(data: bytes, kind: str):
    try:
        ex = extract(data, kind=kind, name="fuzz")
    except DocumentError:
        return
    assert isinstance(ex, Extracted)
    assert all(isinstance(u.text, str) and "\r" not in u.text for u in ex.units)


@pytest.mark.parametrize(
    ("encoding", "note"),
    [
        ("cp1252", "Café résumé, naïve façade … €1.500 pour le déjeuner."),
        ("cp1252", "Note: Café résumé … €1.500"),
        ("cp1252", "Perché è già pagato? Sì, 1.500 € in totale."),
        ("cp1252", "Één café, privé: € 12,50 per maand."),
        ("cp1252", "El niño pagó 1.500 € por el café en Málaga."),
        ("cp1251", "Привет, как дела? Оплата 1500 руб. до пятницы."),
        ("cp1251", "Дома сад и лес."),  # as cp1252 every letter is a Western one: "Äîìà"
        ("cp1250", "Zażółć gęślą jaźń, płatność 1500 zł."),
        ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy."),
        ("cp1253", "Καλημέρα, η πληρωμή είναι 1500 €."),
    ],
)
def test_a_short_legacy_note_is_read_in_its_own_encoding(encoding: str, note: str) -> None:
    """The French, Italian ones came out Baltic ("Cafķ rķsumķ … Ć1.500") or Central
    European ("č giŕ"); the others must not turn Western in exchange."""
    assert decode_text(note.encode(encoding), "note.txt") == note
