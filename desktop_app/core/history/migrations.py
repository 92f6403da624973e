"""The chat history database's schema, as an ordered list of migrations.

In the style of simonw/llm: each `@migration` function takes the schema one
step further, and the steps run in the order they are defined. Which steps a
database has had is `PRAGMA user_version` (the number applied), so it travels
inside the file and costs no table. Each step and its version bump commit
together in one transaction: a crash or a failing step leaves the database at
the previous version, whole, and the next start simply tries that step again.

Rules for later changes: append a new function, never edit, reorder or remove
one that has shipped (users' databases have already run it). Steps run with
`db.execute` only: `executescript` would commit half-way through the step.

A database written by a newer Folio (a user_version past the last step) is
refused with `DatabaseTooNew`, before anything is written to it: its schema
may mean things this Folio cannot know, and it is the user's chat history.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator

from desktop_app.errors import FolioError

Migration = Callable[[sqlite3.Connection], None]

#: The steps, in order: `MIGRATIONS[n]` takes user_version n to n + 1.
MIGRATIONS: list[Migration] = []

_SEARCH_TRIGGERS = ("messages_fts_insert", "messages_fts_delete", "messages_fts_update")


class DatabaseTooNew(FolioError):
    """The database was written by a newer Folio; this one must not touch it."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"This Folio is older than your chat history database "
            f"(schema {found} > {known}); update Folio."
        )
        self.found = found
        self.known = known


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next schema step (definition order is application order)."""
    MIGRATIONS.append(fn)
    return fn


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def check_version(db: sqlite3.Connection) -> None:
    """Raise `DatabaseTooNew` for a newer Folio's database; only reads, so it is safe first."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise DatabaseTooNew(version, len(MIGRATIONS))


def migrate(db: sqlite3.Connection) -> None:
    """Apply the steps `db` has not had yet, each in its own transaction.

    `db` must not be inside a transaction. Foreign keys are off while steps run
    (SQLite ignores the pragma inside a transaction, and a step that rebuilds a
    table would otherwise cascade deletes into its children); each step must
    leave them consistent, which is checked before it commits.
    """
    check_version(db)
    if schema_version(db) == len(MIGRATIONS):
        return
    foreign_keys = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        while _apply_next(db):
            pass
    finally:
        db.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; rolled back if anything fails inside it.

    IMMEDIATE: a second Folio process opening the same file waits here, then
    sees the first one's work already done.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        # SQLite rolls back by itself on some errors (disk full, I/O); nothing to undo then.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _apply_next(db: sqlite3.Connection) -> bool:
    """Apply one step; False once there is none left."""
    with _immediate(db):
        check_version(db)
        version = schema_version(db)
        if version == len(MIGRATIONS):
            return False
        MIGRATIONS[version](db)
        broken = db.execute("PRAGMA foreign_key_check").fetchone()
        if broken is not None:
            raise sqlite3.IntegrityError(
                f"migration {MIGRATIONS[version].__name__} broke a foreign key: {tuple(broken)}"
            )
        db.execute(f"PRAGMA user_version = {version + 1}")
        return True


def fts5_available(db: sqlite3.Connection) -> bool:
    return any(row[0] == "ENABLE_FTS5" for row in db.execute("PRAGMA compile_options"))


def ensure_search_index(db: sqlite3.Connection) -> bool:
    """Make `messages_fts` (full-text index of message content) current; False without FTS5.

    The index is derived data that depends on the SQLite build Folio runs on,
    not on the schema version, so it is reconciled at every open instead of
    being a migration. With FTS5, a missing table or trigger is (re)created and
    the index rebuilt from `messages`. Without it, the triggers are dropped:
    they would make every message write fail with "no such module: fts5". A
    later FTS5-capable Folio then finds them missing and rebuilds the index,
    which catches up on the messages written meanwhile.
    """
    with _immediate(db):
        if not fts5_available(db):
            for trigger in _SEARCH_TRIGGERS:
                db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            return False
        present = {
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE name = 'messages_fts' OR type = 'trigger'"
            )
        }
        if not present.issuperset({"messages_fts", *_SEARCH_TRIGGERS}):
            _create_search_index(db)
        return True


def _create_search_index(db: sqlite3.Connection) -> None:
    # External content: the text is stored once, in `messages`. remove_diacritics
    # lets "resume" find "résumé"; unicode61 folds case for all scripts.
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
        "content, content='messages', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); END"
    )
    # OF content: saving a growing answer's stats or reasoning leaves the index alone.
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS messages_fts_update "
        "AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """Conversations with their messages, attached documents and composer draft; app state.

    AUTOINCREMENT keeps ids from being reused: an answer still streaming into a
    deleted message must not land in a newer one that got the same id.
    """
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            created_at REAL NOT NULL,  -- Unix time
            updated_at REAL NOT NULL   -- Unix time: the conversation list's order
        )
        """
    )
    db.execute("CREATE INDEX conversations_by_update ON conversations (updated_at DESC, id DESC)")
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            reasoning TEXT NOT NULL DEFAULT '',
            stats TEXT,          -- JSON object, or NULL
            finish_reason TEXT,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX messages_by_conversation ON messages (conversation_id, id)")
    db.execute(
        """
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL,
            path TEXT NOT NULL,      -- JSON string: file names may hold lone surrogates
            title TEXT NOT NULL,
            type TEXT NOT NULL,
            pages INTEGER,
            tokens INTEGER,
            warnings TEXT NOT NULL,  -- JSON list of strings
            added_at REAL NOT NULL,
            UNIQUE (conversation_id, sha256)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE drafts (
            conversation_id INTEGER PRIMARY KEY
                REFERENCES conversations (id) ON DELETE CASCADE,
            text TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE TABLE app_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
