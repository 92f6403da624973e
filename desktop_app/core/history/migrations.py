"""The chat history database's schema steps (see core/schema.py for the mechanism), and
its full-text search index, which is reconciled at every open instead."""

from __future__ import annotations

import sqlite3

from desktop_app.core.schema import Schema, immediate

HISTORY = Schema("chat history database")

_SEARCH_TRIGGERS = ("messages_fts_insert", "messages_fts_delete", "messages_fts_update")


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
    with immediate(db):
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


@HISTORY.migration
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
