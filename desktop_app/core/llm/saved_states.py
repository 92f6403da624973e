"""Prompt states on disk, so a document read once is never read again with the same model.

Reading a long document costs minutes on a CPU; loading llama.cpp's memory for
sequence 0 (attention KV plus recurrent state) after the "document block" takes
a fraction of a second. Each entry is one `llama_state_seq_save_file` file,
`<key>.state`, plus a row in a SQLite index (WAL, so two Folio processes can
share the folder) holding its size, CRC-32, token count and a use counter for
LRU eviction.

A wrong state is worse than a slow answer, and llama.cpp (0.3.36) checks little
when it loads one: the magic and version, the token count against the caller's
capacity, and per memory the layer count, each tensor's type and row size, the
cell count against the cache and the V layout (flash attention). It does not
check which model wrote the file (a same-shaped model's state loads), nor the
tensor bytes (flipped bits load silently), and it reads a truncated file past its
end without error, then aborts the whole process on a GGML_ASSERT. Hence:

* the key covers the model identity, every state-shaping context parameter, the
  llama-cpp-python version and the tokens, so a mismatching file is never asked for;
* the size and CRC-32 are checked before llama.cpp opens the file, which also
  keeps a truncated file from ever reaching that assert;
* after the load, the tokens stored in the file and the sequence's last position
  must match the prefix the caller asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from desktop_app.core.models.gguf_header import header_size
from desktop_app.core.schema import DatabaseTooNew, Schema

log = logging.getLogger(__name__)

_SEQ = 0
_INDEX = "index.sqlite3"
_SUFFIX = ".state"
_TMP_SUFFIX = ".tmp"
# A different llama.cpp may lay the state out differently under the same file
# version, so an upgrade starts a fresh cache rather than trusting old files.
_FORMAT = f"folio-prompt-state/1 llama-cpp-python/{llama_cpp.__version__}"
# Temp files and unindexed states this old are leftovers of a crash, not a save in flight.
_STALE_S = 3600
_CHUNK = 8 * 1024**2
# model_identity also hashes this many evenly spaced slices of the tensor data, so
# two fine-tunes with the same header (same name, shapes and quantization) differ.
_SAMPLES = 16
_SAMPLE_BYTES = 64 * 1024

#: The index's schema steps (core/schema.py, the one mechanism of every Folio database).
SCHEMA = Schema("saved-state index")


@SCHEMA.migration
def m001_entries(db: sqlite3.Connection) -> None:
    # IF NOT EXISTS: indexes written before the index had a schema version hold the table.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS entries (
            key TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            crc32 INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            last_used INTEGER NOT NULL
        )
        """
    )


def model_identity(path: Path) -> str:
    """sha256 hex over the file size, the GGUF header and a sample of the tensor data.

    The header (metadata + tensor infos, a few MB even for a 5.7 GB model) pins the
    architecture, shapes, quantization and tokenizer; the 16 x 64 KiB data slices
    tell apart models that share all of that but not their weights. Moving or
    renaming the file keeps its identity. Raises `ModelFileError` for an unreadable
    or non-GGUF file (the engine could not have loaded it either).
    """
    start = header_size(path)
    h = hashlib.sha256()
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        h.update(f.read(start))
        span = size - start
        if span <= _SAMPLES * _SAMPLE_BYTES:
            h.update(f.read())
        else:
            for i in range(_SAMPLES):
                f.seek(start + (span - _SAMPLE_BYTES) * i // (_SAMPLES - 1))
                h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()


def _file_crc(path: Path) -> tuple[int, int]:
    """Size and CRC-32 of a file.

    CRC-32 runs at ~2 GB/s (sha256 1.4, blake2b 0.6 GB/s on the same CPU) and catches
    accidental damage, which is all a local cache has to fear.
    """
    size, crc = 0, 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            crc = zlib.crc32(view[:n], crc)
            size += n
    return size, crc


def _token_ptr(ids: np.ndarray) -> ctypes._Pointer[ctypes.c_int32]:
    return ids.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token))


class SavedStates:
    """Saved sequence-0 states of token prefixes, capped at `max_bytes`, LRU evicted."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @staticmethod
    def key(identity: str, params: Mapping[str, object], tokens: Sequence[int]) -> str:
        """Stable hex key over the model identity, the context parameters and the prefix.

        `params` must hold every setting that changes the saved state or whether it
        loads (n_ctx, K/V cache types, flash attention, n_batch, ...); values must be
        JSON scalars so the key is the same in every process (TypeError otherwise).
        """
        for name, value in params.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise TypeError(f"context parameter {name!r} is not a JSON scalar: {value!r}")
        head = json.dumps(
            {"format": _FORMAT, "model": identity, "params": dict(params)}, sort_keys=True
        )
        h = hashlib.sha256(head.encode("utf-8"))  # a JSON object is self-delimiting
        h.update(np.asarray(tokens, dtype="<i4").tobytes())
        return h.hexdigest()

    def contains(self, key: str) -> bool:
        """Whether an entry is indexed and its file is present (not yet verified)."""
        try:
            return self._lookup(key) is not None and self._path(key).is_file()
        except Exception:
            log.warning("prompt-state index unreadable in %s", self.root, exc_info=True)
            return False

    def save(self, ctx: llama_cpp.llama_context_p, key: str, tokens: Sequence[int]) -> int:
        """Write sequence 0's state (which has read exactly `tokens`) as entry `key`.

        The file is written under a temp name and renamed, so a crash never leaves a
        half-written `<key>.state`; it is not fsynced because the CRC check on load
        turns any power-loss damage into a miss. Returns the bytes kept: 0 when the
        state alone exceeds the cap or anything fails (logged, never raised, no
        temp file left behind).
        """
        if len(tokens) == 0:
            return 0
        tmp: Path | None = None
        final: Path | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".", suffix=_TMP_SUFFIX, dir=self.root)
            os.close(fd)
            tmp = Path(name)
            ids = np.asarray(tokens, dtype=np.int32)
            started = time.perf_counter()
            written = llama_cpp.llama_state_seq_save_file(
                ctx, os.fsencode(tmp), _SEQ, _token_ptr(ids), len(ids)
            )
            # fwrite errors that only surface at fclose (disk full) show up as a short file.
            size, crc = _file_crc(tmp)
            if written == 0 or size != written:
                log.warning("saving prompt state %s failed (%d of %d bytes)", key, size, written)
                return 0
            if size > self.max_bytes:
                log.info("prompt state of %d bytes exceeds the %d-byte cap", size, self.max_bytes)
                return 0
            os.replace(tmp, self._path(key))
            tmp, final = None, self._path(key)
            victims = self._record(key, size, crc, len(ids))
            final = None
            for victim in victims:
                self._unlink(self._path(victim))
            log.info(
                "saved prompt state %s: %d tokens, %d bytes in %.2f s",
                key[:12], len(ids), size, time.perf_counter() - started,
            )  # fmt: skip
            return size
        except Exception:
            log.warning("could not save prompt state %s in %s", key, self.root, exc_info=True)
            return 0
        finally:
            for leftover in (tmp, final):
                if leftover is not None:
                    self._unlink(leftover)

    def load(self, ctx: llama_cpp.llama_context_p, key: str, tokens: Sequence[int]) -> bool:
        """Restore entry `key` into sequence 0 and confirm it holds exactly `tokens`.

        With no entry the context is left untouched. Once an entry exists, any
        failure (missing or damaged file, llama.cpp refusing it, other tokens)
        leaves sequence 0 empty, deletes the entry, logs a warning and returns
        False; the caller must then reset its own token bookkeeping. Never raises.
        """
        try:
            row = self._lookup(key)
        except Exception:
            log.warning("prompt-state index unreadable in %s", self.root, exc_info=True)
            return False
        if row is None:
            return False
        started = time.perf_counter()
        try:
            problem = self._restore(ctx, key, row, tokens)
        except Exception as e:
            log.debug("loading prompt state %s raised", key, exc_info=True)
            problem = f"{type(e).__name__}: {e}"
        if problem is not None:
            self._invalidate(ctx, key, problem)
            return False
        try:
            self._touch(key)
        except Exception:
            log.warning("could not update prompt-state index in %s", self.root, exc_info=True)
        log.info(
            "loaded prompt state %s: %d tokens in %.2f s",
            key[:12], len(tokens), time.perf_counter() - started,
        )  # fmt: skip
        return True

    # -- internals ---------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / f"{key}{_SUFFIX}"

    def _lookup(self, key: str) -> tuple[int, int] | None:
        """The entry's recorded size and CRC-32, or None when it is not indexed."""
        with self._index(create=False) as db:
            if db is None:
                return None
            sql = "SELECT size, crc32 FROM entries WHERE key = ?"
            return db.execute(sql, (key,)).fetchone()

    def _restore(
        self, ctx: llama_cpp.llama_context_p, key: str, row: tuple[int, int], tokens: Sequence[int]
    ) -> str | None:
        """Verify and load the entry's file; the reason it is unusable, or None when loaded."""
        path = self._path(key)
        size, crc = _file_crc(path)
        if (size, crc) != row:
            return f"size/CRC {size}/{crc:08x} instead of {row[0]}/{row[1]:08x}"
        expected = np.asarray(tokens, dtype=np.int32)
        mem = llama_cpp.llama_get_memory(ctx)
        llama_cpp.llama_memory_seq_rm(mem, _SEQ, -1, -1)
        out = np.zeros(max(len(expected), 1), dtype=np.int32)  # NULL would only count tokens
        n_out = ctypes.c_size_t(0)
        read = llama_cpp.llama_state_seq_load_file(
            ctx, os.fsencode(path), _SEQ, _token_ptr(out), len(expected), ctypes.byref(n_out)
        )
        if read == 0:
            return "llama.cpp rejected it (see its log)"
        if read != size:
            return f"llama.cpp read {read} of its {size} bytes"
        if n_out.value != len(expected) or not np.array_equal(out[: n_out.value], expected):
            return f"it holds other tokens ({n_out.value} instead of {len(expected)})"
        last = llama_cpp.llama_memory_seq_pos_max(mem, _SEQ)
        if last != len(expected) - 1:
            return f"its sequence ends at position {last}, not {len(expected) - 1}"
        return None

    def _invalidate(self, ctx: llama_cpp.llama_context_p, key: str, problem: str) -> None:
        """Empty sequence 0 and forget the entry; each step on its own, so none is skipped."""
        log.warning("discarding saved prompt state %s: %s", key, problem)
        try:
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), _SEQ, -1, -1)
        except Exception:
            log.error("could not clear sequence %d after a failed load", _SEQ, exc_info=True)
        self._unlink(self._path(key))
        try:
            with self._index(create=False) as db:
                if db is not None:
                    db.execute("DELETE FROM entries WHERE key = ?", (key,))
        except Exception:
            log.warning("could not update prompt-state index in %s", self.root, exc_info=True)

    def _record(self, key: str, size: int, crc: int, n_tokens: int) -> list[str]:
        """Index the entry as most recently used and evict LRU entries over the cap.

        Returns the evicted keys, whose files the caller deletes after the commit.
        """
        with self._index(create=True) as db:
            assert db is not None
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, "
                    "(SELECT COALESCE(MAX(last_used), 0) + 1 FROM entries))",
                    (key, size, crc, n_tokens),
                )
                total = db.execute("SELECT SUM(size) FROM entries").fetchone()[0]
                victims: list[str] = []
                sql = "SELECT key, size FROM entries WHERE key != ? ORDER BY last_used"
                for old, old_size in db.execute(sql, (key,)).fetchall():
                    if total <= self.max_bytes:
                        break
                    victims.append(old)
                    total -= old_size
                db.executemany("DELETE FROM entries WHERE key = ?", [(v,) for v in victims])
                kept = {k for (k,) in db.execute("SELECT key FROM entries")}
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._sweep(kept)
        return victims

    def _touch(self, key: str) -> None:
        """Mark the entry most recently used. A counter, not a clock: clocks jump and tie."""
        with self._index(create=False) as db:
            if db is not None:
                db.execute(
                    "UPDATE entries SET last_used = "
                    "(SELECT MAX(last_used) + 1 FROM entries) WHERE key = ?",
                    (key,),
                )

    def _sweep(self, indexed: set[str]) -> None:
        """Delete old temp files and unindexed states that a crash or failed delete left."""
        cutoff = time.time() - _STALE_S
        try:
            paths = list(self.root.iterdir())
        except OSError:
            log.warning("could not list %s", self.root, exc_info=True)
            return
        for path in paths:
            stray = path.name.endswith(_TMP_SUFFIX) or (
                path.suffix == _SUFFIX and path.stem not in indexed
            )
            with contextlib.suppress(OSError):
                if stray and path.stat().st_mtime < cutoff:
                    path.unlink()

    @contextlib.contextmanager
    def _index(self, *, create: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection in autocommit mode, None when there is no index and `create` is False.

        One connection per call keeps the store usable from any thread. An index
        SQLite cannot read vouches for nothing, so it is dropped with every state
        file and rebuilt empty rather than leaving the cache dead.
        """
        path = self.root / _INDEX
        if not create and not path.exists():
            yield None
            return
        db = self._open(path)
        try:
            yield db
        finally:
            db.close()

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            return self._connect(path)
        except sqlite3.OperationalError:  # locked, read-only, ...: not damage
            raise
        except sqlite3.DatabaseError:
            log.warning("prompt-state index %s is damaged; starting afresh", path)
            for stale in self.root.iterdir():
                if stale.name.startswith(_INDEX) or stale.suffix == _SUFFIX:
                    self._unlink(stale)
            return self._connect(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            try:
                SCHEMA.migrate(db)
            except DatabaseTooNew as exc:  # a newer Folio's index: start afresh like damage
                raise sqlite3.DatabaseError(str(exc)) from exc
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete %s", path, exc_info=True)
