"""The extraction cache: exact round trips, invalidation, and never breaking a document load."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop_app.core.documents import cache
from desktop_app.core.documents.model import Document, Unit
from tests.support import ROOT


def _doc(pages: int = 3, sha256: str = "ab" * 32) -> Document:
    line = "Page {n}: Zahlung binnen 30 Tagen — 契約 {n}. "
    units = tuple(
        Unit("page", n, "iv" if n == 1 else None, line.format(n=n) * 60)
        for n in range(1, pages + 1)
    )
    return Document(
        path=Path("/docs/Vertrag (final).pdf"),
        sha256=sha256,
        title="Vertrag – final",
        type="pdf",
        units=(*units, Unit("section", None, None, ""), Unit("section", None, "12.3 Payment", "x")),
        warnings=("Pages 4–6 have no text layer.",),
    )


def test_round_trip_is_exact():
    doc = _doc()
    cache.put(doc)
    assert cache.get(doc.sha256) == doc
    assert cache.db_path().is_file()


def test_round_trip_keeps_lone_surrogates():
    """A damaged PDF can yield them, an undecodable file name too (os.fsdecode)."""
    name = Path("/docs/caf\udce9.txt")
    doc = Document(name, "cd" * 32, "caf\udce9", "text", (Unit("page", 1, None, "a\ud800b"),))
    cache.put(doc)
    assert cache.get(doc.sha256) == doc


def test_miss():
    assert cache.get("00" * 32) is None
    cache.put(_doc())
    assert cache.get("00" * 32) is None


def test_put_replaces_and_remembers_the_latest_path():
    doc = _doc()
    cache.put(doc)
    moved = doc.for_path(Path("/elsewhere/copy.pdf"))
    cache.put(moved)
    assert cache.get(doc.sha256) == moved


def test_other_extractor_version_is_ignored_and_dropped(monkeypatch: pytest.MonkeyPatch):
    doc = _doc()
    cache.put(doc)
    monkeypatch.setattr(cache, "EXTRACTOR_VERSION", cache.EXTRACTOR_VERSION + 1)
    assert cache.get(doc.sha256) is None
    monkeypatch.undo()
    assert cache.get(doc.sha256) is None  # the stale row is gone, not merely skipped


def test_survives_a_restart(folio_home: Path):
    doc = _doc()
    cache.put(doc)
    code = (
        "import sys; from desktop_app.core.documents import cache; "
        f"doc = cache.get({doc.sha256!r}); "
        "print(doc.title, len(doc.units), doc.units[0].label, doc.path.name)"
    )
    env = dict(os.environ, FOLIO_HOME=str(folio_home))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{doc.title} {len(doc.units)} iv {doc.path.name}"


def test_corrupt_database_is_a_miss_then_replaced(caplog: pytest.LogCaptureFixture):
    doc = _doc()
    cache.db_path().write_bytes(b"this is not an SQLite database" * 100)
    with caplog.at_level(logging.WARNING):
        assert cache.get(doc.sha256) is None
        cache.put(doc)
    assert "Extraction cache" in caplog.text
    assert cache.get(doc.sha256) == doc


def test_unopenable_database_never_raises():
    cache.db_path().mkdir()  # a folder where the file should be: cannot open, cannot delete
    doc = _doc()
    cache.put(doc)
    assert cache.get(doc.sha256) is None


def test_newer_schema_is_left_alone():
    """After a downgrade the newer Folio's cache is not ours to rewrite."""
    with sqlite3.connect(cache.db_path()) as conn:
        conn.execute("PRAGMA user_version = 99")
    doc = _doc()
    cache.put(doc)
    assert cache.get(doc.sha256) is None
    with sqlite3.connect(cache.db_path()) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99


def test_schema_version_and_wal():
    cache.put(_doc())
    with sqlite3.connect(cache.db_path()) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(cache.SCHEMA.steps)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_use_from_threads():
    docs = [_doc(pages=5, sha256=f"{i:064x}") for i in range(8)]
    errors: list[Exception] = []

    def work(doc: Document) -> None:
        try:
            for _ in range(5):
                cache.put(doc)
                assert cache.get(doc.sha256) == doc
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_get_of_a_300_page_document_is_fast():
    doc = _doc(pages=300)  # ~3,000 characters a page: about 1 MB of text
    cache.put(doc)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        assert cache.get(doc.sha256) == doc
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[2] < 0.1, timings


def test_the_least_recently_used_are_evicted_beyond_the_limit(monkeypatch: pytest.MonkeyPatch):
    docs = [_doc(sha256=f"{i:02x}" * 32) for i in range(4)]
    one = len(cache.json.dumps([u.as_dict() for u in docs[0].units]).encode())
    monkeypatch.setattr(cache, "MAX_BYTES", int(one * 2.5))  # room for two and a half
    for doc in docs[:2]:
        cache.put(doc)
        time.sleep(0.01)
    assert cache.get(docs[0].sha256) is not None  # used again: now the most recent
    time.sleep(0.01)
    cache.put(docs[2])  # three over the limit: the least recently used (docs[1]) goes
    assert cache.get(docs[1].sha256) is None
    assert cache.get(docs[0].sha256) == docs[0] and cache.get(docs[2].sha256) == docs[2]
    monkeypatch.setattr(cache, "MAX_BYTES", 1)
    cache.put(docs[3])  # alone over the limit: the newest stays, the rest go
    assert [cache.get(d.sha256) is not None for d in docs] == [False, False, False, True]
