"""Everything the user creates in Folio: conversations, messages, attached documents, drafts.

Unlike the extraction cache, this is the user's own work, so it is never
thrown away: a damaged file (found at open by quick_check, or by a query while
Folio runs, which marks it for the next open) is rebuilt from every row that can
still be read and moved aside (`folio.sqlite3.corrupt-<time>`), with
`Store.recovery` saying what was kept so the UI and the CLI can tell the user
(see recovery.py); a database from a newer Folio is refused
(`schema.DatabaseTooNew`) untouched.

Writes are small and frequent (a growing answer is saved about once a second),
so each is one short `BEGIN IMMEDIATE` transaction on one long-lived
connection. WAL lets readers (a second window) go on during a write, and with
`synchronous = NORMAL` a commit waits for no fsync: an app crash loses nothing
committed, a power cut at most the last moments.

The UI thread owns the Store, but the connection is opened with
`check_same_thread=False` and every use holds `_lock`, so a worker thread may
write too (say, a finished answer) without corrupting the connection's state.

Missing ids: adding a message or document to a conversation that is gone
raises `KeyError`, since the content would otherwise vanish silently; updating,
deleting or saving a draft for something already gone does nothing, since that
is the normal race of an answer streaming into a chat the user just deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desktop_app import paths
from desktop_app.core.history import migrations, recovery
from desktop_app.errors import FolioError

log = logging.getLogger(__name__)

FILE_NAME = "folio.sqlite3"
_BUSY_TIMEOUT_S = 5.0

_MESSAGE_COLUMNS = "id, conversation_id, role, content, reasoning, stats, finish_reason, created_at"
_DOCUMENT_COLUMNS = (
    "id, conversation_id, sha256, path, title, type, pages, tokens, warnings, added_at"
)


class StoreError(FolioError):
    """The chat history database cannot be opened (not damage: permissions, locks, disk)."""


class HistoryDamaged(StoreError):
    """A query found the database damaged while Folio ran; the next open repairs it."""


@dataclass(frozen=True)
class ConversationRow:
    id: int
    title: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class MessageRow:
    id: int
    conversation_id: int
    role: str
    content: str
    reasoning: str
    stats: dict | None
    finish_reason: str | None
    created_at: float


@dataclass(frozen=True)
class DocumentRow:
    id: int
    conversation_id: int
    sha256: str
    path: str
    title: str
    type: str
    pages: int | None
    tokens: int | None
    warnings: list[str]
    added_at: float


class Store:
    """The user's conversations in one SQLite file; see the module docstring."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.data_dir() / FILE_NAME
        #: What was kept when the database was found damaged at open and rebuilt (the
        #: damaged file moved aside), for the UI and the CLI to say once; else None.
        self.recovery: recovery.Recovery | None = None
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db, self._fts = _open(self.path)
            except (sqlite3.DatabaseError, recovery.Damaged) as exc:
                if not recovery.is_damage(exc):
                    raise
                # The details to the log; the user gets one line (the CLI's stderr shows
                # Folio's warnings) or, in the window, a dialog with the same text.
                log.warning("Chat history %s is damaged (%s); recovering it.", self.path, exc,
                            extra={"file_only": True})  # fmt: skip
                self.recovery = recovery.recover(self.path)
                log.warning("%s", self.recovery.message())
                self._db, self._fts = _open(self.path)
        except (sqlite3.Error, OSError, recovery.Damaged) as exc:
            raise StoreError(f"Cannot open your chat history at {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock:
            try:
                self._db.execute("PRAGMA optimize")  # keeps query plans good as tables grow
            except sqlite3.ProgrammingError:  # already closed
                return
            except sqlite3.Error as exc:
                log.debug("Chat history: PRAGMA optimize failed: %s", exc)
            self._db.close()

    # Conversations ---------------------------------------------------------

    def create_conversation(self, title: str = "New chat") -> ConversationRow:
        now, title = time.time(), _text(title)
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                (title, now, now),
            )
        return ConversationRow(cursor.lastrowid, title, now, now)

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                (_text(title), time.time(), conversation_id),
            )

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation with its messages, documents and draft (foreign key cascade)."""
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def conversation(self, conversation_id: int) -> ConversationRow | None:
        rows = self._read(
            "SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        return ConversationRow(*rows[0]) if rows else None

    def list_conversations(self, search: str = "") -> list[ConversationRow]:
        """Conversations, most recently updated first; with `search`, only the matching ones.

        Each whitespace-separated word must occur in the title (case-insensitive
        substring), or every word in one message's content. Message search uses
        the FTS5 index, each word quoted as a prefix term so that no character a
        user types is FTS syntax; without FTS5 it scans with a substring match.
        """
        words = [word.casefold() for word in search.split()]
        sql = "SELECT id, title, created_at, updated_at FROM conversations"
        params: list[object] = []
        if words:
            title_match = " AND ".join(["instr(folio_fold(title), ?) > 0"] * len(words))
            if self._fts:
                content_match = (
                    "id IN (SELECT conversation_id FROM messages WHERE id IN "
                    "(SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))"
                )
                content_params: list[object] = [_fts_query(words)]
            else:
                scan = " AND ".join(["instr(folio_fold(content), ?) > 0"] * len(words))
                content_match = f"id IN (SELECT conversation_id FROM messages WHERE {scan})"
                content_params = list(words)
            sql += f" WHERE ({title_match}) OR {content_match}"
            params = [*words, *content_params]
        sql += " ORDER BY updated_at DESC, id DESC"
        return [ConversationRow(*row) for row in self._read(sql, params)]

    # Messages ----------------------------------------------------------------

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        reasoning: str = "",
        stats: dict | None = None,
        finish_reason: str | None = None,
    ) -> MessageRow:
        """Append a message; `KeyError` if the conversation is gone."""
        now = time.time()
        content, reasoning = _text(content), _text(reasoning)
        with self._write() as db:
            _touch(db, conversation_id, now)
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, reasoning, stats, "
                "finish_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, reasoning, _json(stats), finish_reason, now),
            )
        return MessageRow(
            cursor.lastrowid, conversation_id, role, content, reasoning, stats, finish_reason, now
        )

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        stats: dict | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Change the fields given (None leaves a field as it is); a deleted message is ignored."""
        given = {"content": content, "reasoning": reasoning, "finish_reason": finish_reason}
        changes = {column: _text(value) for column, value in given.items() if value is not None}
        if stats is not None:
            changes["stats"] = _json(stats)
        if not changes:
            return
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._write() as db:
            row = db.execute(
                f"UPDATE messages SET {assignments} WHERE id = ? RETURNING conversation_id",
                (*changes.values(), message_id),
            ).fetchone()
            if row is not None:
                _touch(db, row[0], time.time())

    def reopen_message(self, message_id: int) -> None:
        """Mark an answer as in flight again (Continue): until it ends anew, a crash must
        show it as interrupted, not as the outcome it had before."""
        with self._write() as db:
            db.execute("UPDATE messages SET finish_reason = NULL WHERE id = ?", (message_id,))

    def delete_message(self, message_id: int) -> None:
        with self._write() as db:
            row = db.execute(
                "DELETE FROM messages WHERE id = ? RETURNING conversation_id", (message_id,)
            ).fetchone()
            if row is not None:
                _touch(db, row[0], time.time())

    def messages(self, conversation_id: int) -> list[MessageRow]:
        """The conversation's messages in the order they were added."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id"
        return [_message(row) for row in self._read(sql, (conversation_id,))]

    # Documents -----------------------------------------------------------------

    def attach_document(
        self,
        conversation_id: int,
        *,
        sha256: str,
        path: str,
        title: str,
        type: str,
        pages: int | None,
        tokens: int | None,
        warnings: Sequence[str] = (),
    ) -> DocumentRow:
        """Attach a document's metadata; the same file (sha256) twice returns the first row.

        `KeyError` if the conversation is gone. The extracted text stays in the
        extraction cache, keyed by the same sha256.
        """
        now = time.time()
        with self._write() as db:
            _touch(db, conversation_id, now)
            db.execute(
                "INSERT INTO documents (conversation_id, sha256, path, title, type, pages, "
                "tokens, warnings, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (conversation_id, sha256) DO NOTHING",
                (conversation_id, sha256, json.dumps(path), _text(title), type, pages, tokens,
                 json.dumps([_text(w) for w in warnings]), now),
            )  # fmt: skip
            row = db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents "
                "WHERE conversation_id = ? AND sha256 = ?",
                (conversation_id, sha256),
            ).fetchone()
        return _document(row)

    def detach_document(self, document_id: int) -> None:
        with self._write() as db:
            row = db.execute(
                "DELETE FROM documents WHERE id = ? RETURNING conversation_id", (document_id,)
            ).fetchone()
            if row is not None:
                _touch(db, row[0], time.time())

    def documents(self, conversation_id: int) -> list[DocumentRow]:
        """The conversation's documents in the order they were attached."""
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE conversation_id = ? ORDER BY id"
        return [_document(row) for row in self._read(sql, (conversation_id,))]

    # Drafts and app state ------------------------------------------------------

    def set_draft(self, conversation_id: int, text: str) -> None:
        """Save the composer's text; "" clears it. Typing does not reorder the conversation list."""
        with self._write() as db:
            if not text:
                db.execute("DELETE FROM drafts WHERE conversation_id = ?", (conversation_id,))
                return
            db.execute(
                "INSERT INTO drafts (conversation_id, text) "
                "SELECT id, ? FROM conversations WHERE id = ? "
                "ON CONFLICT (conversation_id) DO UPDATE SET text = excluded.text",
                (_text(text), conversation_id),
            )

    def draft(self, conversation_id: int) -> str:
        rows = self._read("SELECT text FROM drafts WHERE conversation_id = ?", (conversation_id,))
        return rows[0][0] if rows else ""

    def set_app_state(self, key: str, value: str | None) -> None:
        """Remember a small value across restarts (e.g. "open_conversation"); None forgets it."""
        with self._write() as db:
            if value is None:
                db.execute("DELETE FROM app_state WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO app_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, _text(value)),
                )

    def app_state(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM app_state WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # Internals -------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if recovery.is_damage(exc):
                    raise self._damaged(exc) from exc
                raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; IMMEDIATE takes the write lock up front, so no deadlock."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                if recovery.is_damage(exc):
                    raise self._damaged(exc) from exc
                raise

    def _damaged(self, exc: sqlite3.DatabaseError) -> HistoryDamaged:
        """Damage found while running: a clear message now, a rebuild at the next open."""
        recovery.mark(self.path, exc)
        # To the log only: the error's message is the user's one line.
        log.error("Chat history %s is damaged (%s); the next open repairs it.", self.path, exc,
                  extra={"file_only": True})  # fmt: skip
        return HistoryDamaged(
            f"Your chat history is damaged ({exc}). Folio repairs it the next time it starts, "
            "keeping every conversation it can still read."
        )


def _open(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Open and migrate the database; returns it and whether full-text search is available."""
    # Autocommit mode: the Store and `migrations` issue every BEGIN themselves.
    # `timeout` is SQLite's busy timeout: how long to wait for another Folio's write.
    db = sqlite3.connect(
        path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    try:
        # Before anything that writes (WAL switches the file's header): a newer
        # Folio's database must stay exactly as it is.
        migrations.HISTORY.check_version(db)
        recovery.check(db, path)  # damage is rebuilt before anything writes to it
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        # Case-insensitive search beyond ASCII (SQLite's LIKE folds only A-Z).
        db.create_function("folio_fold", 1, str.casefold, deterministic=True)
        migrations.HISTORY.migrate(db)
        fts = migrations.ensure_search_index(db)
    except BaseException:
        db.close()
        raise
    return db, fts


def _touch(db: sqlite3.Connection, conversation_id: int, now: float) -> None:
    """Mark the conversation as changed (list order); `KeyError` if it is gone."""
    cursor = db.execute(
        "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
    )
    if not cursor.rowcount:
        raise KeyError(f"no conversation {conversation_id}")


def _fts_query(words: list[str]) -> str:
    """Words as an FTS5 query that is never a syntax error: all of them, each as a prefix."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def _text(text: str) -> str:
    """`text` as SQLite can store it: lone surrogates (model bytes, file names) become "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value)


def _message(row: tuple) -> MessageRow:
    *head, stats, finish_reason, created_at = row
    stats = None if stats is None else json.loads(stats)
    return MessageRow(*head, stats, finish_reason, created_at)


def _document(row: tuple) -> DocumentRow:
    *head, path, title, kind, pages, tokens, warnings, added_at = row
    return DocumentRow(
        *head, json.loads(path), title, kind, pages, tokens, json.loads(warnings), added_at
    )
