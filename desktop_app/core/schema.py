"""Every Folio SQLite file's schema, as an ordered list of migrations: one mechanism.

In the style of simonw/llm: each `@schema.migration` function takes a database one step
further, and the steps run in the order they are defined. Which steps a database has had is
`PRAGMA user_version` (the number applied), so it travels inside the file and costs no
table. Each step and its version bump commit together in one transaction: a crash or a
failing step leaves the database at the previous version, whole, and the next open simply
tries that step again. The chat history (history/migrations.py), the extraction cache
(documents/cache.py) and the saved-state index (llm/saved_states.py) each have a `Schema`.

Rules for later changes: append a new function, never edit, reorder or remove one that has
shipped (users' databases have already run it). Steps run with `db.execute` only:
`executescript` would commit half-way through the step.

A database written by a newer Folio (a user_version past the last step) is refused with
`DatabaseTooNew`, before anything is written to it: its schema may mean things this Folio
cannot know.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator

from desktop_app.errors import FolioError

Migration = Callable[[sqlite3.Connection], None]


class DatabaseTooNew(FolioError):
    """The database was written by a newer Folio; this one must not touch it."""

    def __init__(self, name: str, found: int, known: int) -> None:
        super().__init__(
            f"This Folio is older than your {name} (schema {found} > {known}); update Folio."
        )
        self.found = found
        self.known = known


class Schema:
    """One database's migrations, in order: `steps[n]` takes user_version n to n + 1."""

    def __init__(self, name: str) -> None:
        #: What the database is, for the user ("chat history database").
        self.name = name
        self.steps: list[Migration] = []

    def migration(self, fn: Migration) -> Migration:
        """Register `fn` as the next step (definition order is application order)."""
        self.steps.append(fn)
        return fn

    def check_version(self, db: sqlite3.Connection) -> None:
        """Raise `DatabaseTooNew` for a newer Folio's database; only reads, so it is safe
        first."""
        version = schema_version(db)
        if version > len(self.steps):
            raise DatabaseTooNew(self.name, version, len(self.steps))

    def migrate(self, db: sqlite3.Connection) -> None:
        """Apply the steps `db` has not had yet, each in its own transaction.

        `db` must not be inside a transaction. Foreign keys are off while steps run
        (SQLite ignores the pragma inside a transaction, and a step that rebuilds a
        table would otherwise cascade deletes into its children); each step must
        leave them consistent, which is checked before it commits.
        """
        self.check_version(db)
        if schema_version(db) == len(self.steps):
            return
        foreign_keys = db.execute("PRAGMA foreign_keys").fetchone()[0]
        db.execute("PRAGMA foreign_keys = OFF")
        try:
            while self._apply_next(db):
                pass
        finally:
            db.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")

    def _apply_next(self, db: sqlite3.Connection) -> bool:
        """Apply one step; False once there is none left."""
        with immediate(db):
            self.check_version(db)
            version = schema_version(db)
            if version == len(self.steps):
                return False
            step = self.steps[version]
            step(db)
            broken = db.execute("PRAGMA foreign_key_check").fetchone()
            if broken is not None:
                raise sqlite3.IntegrityError(
                    f"migration {step.__name__} broke a foreign key: {tuple(broken)}"
                )
            db.execute(f"PRAGMA user_version = {version + 1}")
            return True


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
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
