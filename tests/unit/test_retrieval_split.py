"""Cutting documents into passages: the same pieces as ever, in time linear in the size,
and an index build that Cancel/Quit stop within a second.

A 50 MB text with no blank line (a log, an export) is one paragraph; the splitter used to
re-copy the rest of it after every 1,200-character cut, so a 16 MB one took 18 s and a
50 MB one minutes, on the engine thread that opens the session.
"""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path

import pytest

from desktop_app.core.chat.cards import Fit
from desktop_app.core.chat.retrieval import (
    PASSAGE_CHARS,
    IndexCancelled,
    PassageIndex,
    _split,
    until_cancelled,
)
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.documents.library import DocumentLibrary, Resolved
from desktop_app.core.documents.model import Document, Unit
from desktop_app.errors import FolioError
from desktop_app.settings import Settings

WORDS = (
    "lease rent party notice clause payment term landlord tenant deposit days written "
    "agreement premises repair insurance termination renewal schedule annex"
).split()
#: Whitespace `str.strip` removes besides the usual: no-break, em and ideographic spaces,
#: the file/group/record/unit separators.
ODD_SPACES = ["\u00a0", "\u2003", "\u3000", "\x1c", "\x1f", "\t", "\r", "\x0b", "\x0c"]


def _old_split(text: str) -> list[str]:
    """The splitter before the fix (quadratic on one long paragraph): the oracle for what
    the pieces must be."""
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        while len(para) > PASSAGE_CHARS:
            cut = max(para.rfind("\n", 0, PASSAGE_CHARS), para.rfind(" ", 0, PASSAGE_CHARS))
            cut = cut if cut > PASSAGE_CHARS // 2 else PASSAGE_CHARS
            if current:
                pieces.append(current)
                current = ""
            pieces.append(para[:cut].strip())
            para = para[cut:].strip()
        if current and len(current) + len(para) + 2 > PASSAGE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current:
        pieces.append(current)
    return pieces


def _random_text(rng: random.Random, size: int) -> str:
    """Words with every kind of break the splitter looks at: spaces, lines, blank lines
    (with spaces and odd whitespace in them), words longer than a passage, long runs of
    whitespace."""
    tokens: list[str] = []
    n = 0
    while n < size:
        roll = rng.random()
        if roll < 0.70:
            token = rng.choice(WORDS)
        elif roll < 0.78:
            token = " "
        elif roll < 0.84:
            token = "\n"
        elif roll < 0.89:
            token = "\n" + rng.choice(["", " ", "  \t", *ODD_SPACES]) + "\n"
        elif roll < 0.93:
            token = rng.choice(ODD_SPACES) * rng.randint(1, 3)
        elif roll < 0.95:
            token = "x" * rng.randint(500, 3000)  # no space to cut at
        elif roll < 0.97:
            token = rng.choice([" ", "\n", "\u00a0"]) * rng.randint(100, 5000)
        else:
            token = "\n\n" + " " * rng.randint(0, 3)
        tokens.append(token)
        n += len(token)
    return " ".join(tokens) if rng.random() < 0.3 else "".join(tokens)


@pytest.mark.parametrize("seed", range(60))
def test_the_pieces_are_those_the_old_splitter_cut(seed: int):
    rng = random.Random(seed)
    text = _random_text(rng, rng.choice([50, 900, 1300, 5000, 20000, 60000]))
    assert list(_split(text)) == _old_split(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\n \t ",
        "one",
        "  padded  ",
        "a\n\nb",
        "x" * PASSAGE_CHARS,
        "x" * (PASSAGE_CHARS + 1),
        "a" * (PASSAGE_CHARS // 2) + " " + "b" * 1000,  # a space right at the half-way mark
        "a" * (PASSAGE_CHARS // 2 + 1) + "\n" + "b" * 1000,
        "a" * (PASSAGE_CHARS - 1) + " " + "b" * 1000,
        "a" * PASSAGE_CHARS + " " + "b" * 1000,  # just past the window
        "a" * 600 + "\n\n" + "b" * 598,  # two paragraphs that just fit one passage
        "a" * 600 + "\n\n" + "b" * 599,  # and that just do not
        "x" * 5000 + "   \n\n  " + "y" * 10,
        ("word " * 1000) + " " * 20000 + "\n\nnext",  # a paragraph ending in a long run
        "\u00a0" * 9000 + "tail" + "\u3000" * 9000,
        ("short para.\n\n" * 300),
        "line one\nline two\n" * 200,
    ],
)
def test_edge_texts_are_cut_as_before(text: str):
    assert list(_split(text)) == _old_split(text)


def _one_paragraph(megabytes: float) -> str:
    """Words and single spaces, no line break at all: a log or an export."""
    rng = random.Random(1)
    words = [rng.choice(WORDS) for _ in range(int(megabytes * 1_000_000 / 7))]
    return " ".join(words)


def _document(text: str) -> Document:
    return Document(Path("big.txt"), "0" * 64, "big", "text", (Unit("section", None, None, text),))


def _estimate(text: str) -> int:
    return len(text) // 4


def test_splitting_and_indexing_a_16_mb_paragraph_takes_under_a_second():
    text = _one_paragraph(16)
    assert len(text) > 16_000_000

    start = time.perf_counter()
    pieces = list(_split(text))
    split_s = time.perf_counter() - start
    assert split_s < 1.0, f"splitting 16 MB took {split_s:.1f} s"
    # Cut at spaces only: the pieces, in order, are the whole text with one space at each
    # cut, and none is longer than a passage.
    assert max(len(p) for p in pieces) <= PASSAGE_CHARS
    assert " ".join(pieces) == text

    start = time.perf_counter()
    index = PassageIndex([_document(text)], _estimate)
    index_s = time.perf_counter() - start
    assert [p.text for p in index.passages] == pieces
    # The index's own work (FTS5 with the porter stemmer) is linear; bounded generously for a
    # shared CI machine: the quadratic splitter alone took 18 s here.
    assert index_s < 5.0, f"indexing 16 MB took {index_s:.1f} s"


def test_cancel_stops_indexing_a_large_document_within_a_second():
    text = _one_paragraph(16)
    cancel = threading.Event()
    calls = 0
    set_at = 0.0

    def count(piece: str) -> int:
        nonlocal calls, set_at
        calls += 1
        if calls == 2000:  # Cancel/Quit pressed partway through
            set_at = time.perf_counter()
            cancel.set()
        return len(piece) // 4

    with pytest.raises(IndexCancelled, match="stopped while its documents were prepared"):
        PassageIndex([_document(text)], until_cancelled(count, cancel))
    stopped_s = time.perf_counter() - set_at
    assert stopped_s < 1.0
    assert calls < 2000 + 2 * 256, "it went on cutting and counting after Cancel"


def test_a_retrieval_question_still_finds_its_passage_in_a_one_paragraph_text():
    filler = _one_paragraph(2)
    needle = "the quarantine zebra clause ends the lease"
    text = f"{filler} {needle} {filler}"
    index = PassageIndex([_document(text)], _estimate)
    found = index.search("Which clause mentions the zebra quarantine?", 600)
    assert any(needle in p.text for p in found)


@pytest.mark.model
def test_an_open_cancelled_while_indexing_ends_quietly_and_frees_the_model(
    smollm2_gguf: Path, tmp_path: Path
):
    """Quit during a long index build: the open job ends with no result and no error
    (nothing for the window to show), and the engine it was handed is not left loaded."""
    log = tmp_path / "export.log"
    log.write_text(_one_paragraph(0.2))  # more than the demo model's 8K context
    attached = DocumentLibrary().resolve([(str(log), "0" * 64)])
    host = SessionHost(smollm2_gguf, Settings(max_answer_tokens=4))
    host.open(Resolved(), [])
    engine = host.session.engine
    stopped = threading.Event()
    stopped.set()

    assert host.open(attached, [], stopped) is None
    assert host.session is None and engine.closed
    with pytest.raises(FolioError) as error:
        list(host.ask("What is in it?", False, threading.Event()))
    assert str(error.value) == (
        "The model is not ready (stopped while its documents were prepared). "
        "Choose a model in Settings."
    )
    assert host.open(attached, []).fit == Fit.PASSAGES  # the next open builds it whole
    host.close()
