"""The extraction cache: re-opening a document is instant, across restarts too.

Extracting a 300-page PDF takes seconds; its units take milliseconds to read
back. Entries are keyed by the SHA-256 of the file's bytes, so a renamed or
moved file is still a hit and an edited one is a miss, and they are tagged
with `EXTRACTOR_VERSION`, so a better extractor redoes old extractions.

The cache is an optimisation only: every database failure (corrupt file,
disk full, read-only folder, locked by another Folio) is logged and treated
as a miss, never shown to the user. One SQLite row per document, the units as
one JSON text, keeps a hit to a single indexed read.

A connection is opened per call: calls come from worker threads, the
database path follows `FOLIO_HOME` (tests change it between tests), and
opening a local SQLite file costs well under a millisecond next to the read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from desktop_app import paths
from desktop_app.core.documents import child_answers
from desktop_app.core.documents.child_answers import MalformedAnswer
from desktop_app.core.documents.model import EXTRACTOR_VERSION, Document
from desktop_app.core.schema import DatabaseTooNew, Schema

log = logging.getLogger(__name__)

FILE_NAME = "extractions.sqlite3"
#: Text kept at most (about 2,000 300-page contracts); the least recently used goes first.
MAX_BYTES = 512 * 1024**2

#: The cache's schema steps (core/schema.py, the one mechanism of every Folio database).
SCHEMA = Schema("extraction cache")


@SCHEMA.migration
def m001_extractions(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE extractions (
            sha256 TEXT PRIMARY KEY,
            extractor_version INTEGER NOT NULL,
            type TEXT NOT NULL,
            title TEXT NOT NULL,     -- JSON string
            warnings TEXT NOT NULL,  -- JSON list of strings
            units TEXT NOT NULL,     -- JSON list of Unit.as_dict()
            path TEXT NOT NULL,      -- JSON string: where the file was last seen
            last_used REAL NOT NULL  -- Unix time: for evicting the least recently used
        ) WITHOUT ROWID
        """
    )


#: SQLite result codes for a file that is not (or no longer) a sound database.
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def db_path() -> Path:
    return paths.cache_dir() / FILE_NAME


def get(sha256: str) -> Document | None:
    """The cached extraction of the file with this hash, or None (miss, stale or broken cache)."""
    try:
        with closing(_connect()) as conn:
            row = conn.execute(
                "SELECT extractor_version, type, title, warnings, units, path "
                "FROM extractions WHERE sha256 = ?",
                (sha256,),
            ).fetchone()
            if row is None:
                return None
            version, kind, title, warnings, units, path = row
            if version != EXTRACTOR_VERSION:
                with conn:
                    conn.execute("DELETE FROM extractions WHERE sha256 = ?", (sha256,))
                return None
            doc = Document(
                path=Path(json.loads(path)),
                sha256=sha256,
                title=json.loads(title),
                type=kind,
                units=tuple(child_answers.unit(u) for u in json.loads(units)),
                warnings=tuple(json.loads(warnings)),
            )
            _touch(conn, sha256)
            return doc
    except (sqlite3.Error, OSError, ValueError, TypeError, MalformedAnswer) as exc:
        log.warning("Extraction cache: cannot read %s…: %s", sha256[:12], exc)
        return None


def put(doc: Document) -> None:
    """Store `doc`'s extraction (replacing any older one); failures are logged, not raised."""
    # Text from the document goes in as ASCII-escaped JSON: extractors can emit
    # lone surrogates, and so can file names (os.fsdecode); SQLite text cannot
    # hold them, but "\\udc80" escapes round-trip exactly.
    row = (
        doc.sha256,
        EXTRACTOR_VERSION,
        doc.type,
        json.dumps(doc.title),
        json.dumps(list(doc.warnings)),
        json.dumps([u.as_dict() for u in doc.units]),
        json.dumps(str(doc.path)),
        time.time(),
    )
    try:
        _insert(row)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) not in _DAMAGED:
            log.warning("Extraction cache: cannot store %s: %s", doc.path.name, exc)
            return
        # Nothing in the cache is worth keeping over a working cache.
        log.warning("Extraction cache is damaged (%s); starting a new one.", exc)
        try:
            _delete_database()
            _insert(row)
        except (sqlite3.Error, OSError) as retry_exc:
            log.warning("Extraction cache: cannot store %s: %s", doc.path.name, retry_exc)
    except (sqlite3.Error, OSError) as exc:
        log.warning("Extraction cache: cannot store %s: %s", doc.path.name, exc)


def _insert(row: tuple[object, ...]) -> None:
    with closing(_connect()) as conn, conn:
        # The write lock first: a deferred transaction reads, then fails at once with
        # "database is locked" (no wait) when another writer committed in between; the
        # reader queue, the engine thread and the pane's thread all store documents.
        conn.execute("BEGIN IMMEDIATE")
        # Extractions by another extractor version would only ever be ignored.
        conn.execute("DELETE FROM extractions WHERE extractor_version != ?", (EXTRACTOR_VERSION,))
        conn.execute("INSERT OR REPLACE INTO extractions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        _evict(conn, MAX_BYTES)


def _evict(conn: sqlite3.Connection, limit: int) -> None:
    """Drop the least recently used extractions beyond `limit` bytes of text (the newest
    entry always stays, even alone over the limit: it is the one being used)."""
    rows = conn.execute(
        "SELECT sha256, length(CAST(units AS BLOB)) FROM extractions ORDER BY last_used DESC"
    ).fetchall()
    total, old = 0, []
    for index, (sha256, size) in enumerate(rows):
        total += size
        if total > limit and index > 0:
            old.append((sha256,))
    if old:
        conn.executemany("DELETE FROM extractions WHERE sha256 = ?", old)
        log.info("Extraction cache: evicted %d least recently used documents", len(old))


def _touch(conn: sqlite3.Connection, sha256: str) -> None:
    """Record the use, for eviction; a read-only cache still serves hits."""
    try:
        with conn:
            conn.execute(
                "UPDATE extractions SET last_used = ? WHERE sha256 = ?", (time.time(), sha256)
            )
    except sqlite3.Error as exc:
        log.debug("Extraction cache: cannot record use: %s", exc)


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(), timeout=5.0)
    try:
        # WAL: readers never wait for a writer, e.g. a second Folio window storing. The mode
        # is kept in the file: set once. Setting it ignores the busy timeout ("database is
        # locked" at once while another thread creates the file), so that is waited out here.
        for attempt in range(50):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.02)
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            SCHEMA.migrate(conn)
        except DatabaseTooNew as exc:  # a newer Folio's cache, after a downgrade: run uncached
            raise sqlite3.DatabaseError(str(exc)) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _delete_database() -> None:
    path = db_path()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
