"""A chat history with a damaged page: what is recovered, what the user is told, and that
Folio goes on working (issue 19, item 5).

The damage is real: one page of the closed database file is overwritten with garbage, the
header left intact, so SQLite opens the file and fails only where a query reads that page.
Which rows a page holds is read from the file itself, by walking the table's b-tree.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from desktop_app.core.history.recovery import RECOVERED_TITLE
from desktop_app.core.history.store import FILE_NAME, HistoryDamaged, MessageRow, Store

GARBAGE = b"garbage!"  # 'g' is no b-tree page type: SQLite reports the page as corrupt


def _build(conversations: int, messages: int, *, text: int = 500, title: int = 10) -> Path:
    """A closed history: `conversations` x `messages` turns of about `text` characters,
    with a document, a draft and app state to carry over too."""
    store = Store()
    for c in range(conversations):
        conv = store.create_conversation(f"Chat {c} " + "t" * title)
        for m in range(messages):
            role = "user" if m % 2 == 0 else "assistant"
            store.add_message(conv.id, role, f"word{c}x{m} " + "lorem ipsum " * (text // 12))
    store.attach_document(
        1, sha256="ab" * 32, path="/docs/lease.pdf", title="Lease", type="pdf", pages=2,
        tokens=900, warnings=["Page 2 has no text layer."],
    )  # fmt: skip
    store.set_draft(1, "half a question")
    store.set_app_state("first_run_done", "1")
    store.close()
    return store.path


def _snapshot(path: Path) -> tuple[list, dict[int, MessageRow]]:
    store = Store(path)
    try:
        conversations = store.list_conversations()
        messages = {m.id: m for c in conversations for m in store.messages(c.id)}
        return conversations, messages
    finally:
        store.close()


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def _leaves(path: Path, table: str) -> list[tuple[int, list[int]]]:
    """The table's leaf pages in rowid order, each with the rowids of its rows."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    db.close()
    data = path.read_bytes()
    leaves: list[tuple[int, list[int]]] = []

    def walk(page: int) -> None:
        base = (page - 1) * page_size
        head = base + (100 if page == 1 else 0)
        cells = int.from_bytes(data[head + 3 : head + 5], "big")
        interior = data[head] == 0x05
        pointers = head + (12 if interior else 8)
        offsets = [int.from_bytes(data[pointers + 2 * i : pointers + 2 * i + 2], "big")
                   for i in range(cells)]  # fmt: skip
        if interior:
            for offset in offsets:
                walk(int.from_bytes(data[base + offset : base + offset + 4], "big"))
            walk(int.from_bytes(data[head + 8 : head + 12], "big"))
            return
        assert data[head] == 0x0D  # a table leaf
        rowids = [_varint(data, _varint(data, base + offset)[1])[0] for offset in offsets]
        leaves.append((page, rowids))

    walk(root[0])
    return leaves


def _page_size(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA page_size").fetchone()[0]


def _write_page(path: Path, page: int, data: bytes | None = None) -> bytes:
    """Overwrite `page` with `data` (by default garbage); returns the file as written."""
    size = _page_size(path)
    with path.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(data if data is not None else GARBAGE * (size // len(GARBAGE)))
    return path.read_bytes()


def _moved_aside(home_files: list[Path]) -> list[Path]:
    return [p for p in home_files if p.name.startswith(f"{FILE_NAME}.corrupt-")]


def _terminal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the CLI's stderr shows of the log: Folio's warnings not marked file_only."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and not getattr(r, "file_only", False)
    ]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_damaged_messages_page_loses_only_the_messages_on_it(
    where: str, caplog: pytest.LogCaptureFixture
):
    path = _build(12, 10)
    conversations, messages = _snapshot(path)
    leaves = _leaves(path, "messages")
    assert len(leaves) >= 10  # several rows a page, many pages
    page, lost = leaves[{"first": 0, "middle": len(leaves) // 2, "last": -1}[where]]
    damaged = _write_page(path, page)
    with closing(sqlite3.connect(path)) as db:  # the damage is real
        with pytest.raises(sqlite3.DatabaseError, match="malformed"):
            db.execute("SELECT content FROM messages").fetchall()

    store = Store()
    try:
        moved = store.recovery.moved_to
        assert _moved_aside(list(path.parent.iterdir())) == [moved]
        assert moved.read_bytes() == damaged  # kept as it was, never written to
        assert store.recovery.message() == (
            f"Your chat history was damaged; Folio recovered 12 of 12 conversations and "
            f"{120 - len(lost)} of 120 messages. The damaged file is kept as {moved}."
        )
        assert _terminal_lines(caplog) == [store.recovery.message()]  # said once, one line
        assert store.list_conversations() == conversations
        kept = {m.id: m for c in conversations for m in store.messages(c.id)}
        assert sorted(kept) == sorted(set(messages) - set(lost))
        assert all(kept[i] == messages[i] for i in kept)
        (doc,) = store.documents(1)
        assert (doc.title, doc.warnings) == ("Lease", ["Page 2 has no text layer."])
        assert store.draft(1) == "half a question"
        assert store.app_state("first_run_done") == "1"
        # The search index is rebuilt from the messages kept.
        survivor, gone = messages[max(kept)], messages[lost[0]]
        assert [c.id for c in store.list_conversations(survivor.content.split()[0])] == [
            survivor.conversation_id
        ]
        assert store.list_conversations(gone.content.split()[0]) == []
        # What `folio ask` does next: a new conversation, a question; ids are not reused.
        conv = store.create_conversation("After the repair")
        question = store.add_message(conv.id, "user", "Does it work again?")
        assert conv.id == 13 and question.id == 121
        assert store.list_conversations()[0] == store.conversation(conv.id)
        assert store.messages(conv.id) == [question]
    finally:
        store.close()
    again = Store()
    try:
        assert again.recovery is None
        assert len(again.list_conversations()) == 13
    finally:
        again.close()


def test_a_damaged_conversations_page_keeps_its_messages_as_recovered_chats():
    path = _build(150, 2, text=40, title=200)
    conversations, messages = _snapshot(path)
    leaves = _leaves(path, "conversations")
    assert len(leaves) >= 5
    page, lost = leaves[len(leaves) // 2]
    _write_page(path, page)

    store = Store()
    try:
        assert store.recovery.message() == (
            f"Your chat history was damaged; Folio recovered all 150 conversations "
            f'(300 messages); {len(lost)} lost their titles and are called "{RECOVERED_TITLE}". '
            f"The damaged file is kept as {store.recovery.moved_to}."
        )
        by_id = {c.id: c for c in store.list_conversations()}
        for old in conversations:
            new = by_id[old.id]
            if old.id in lost:  # its title is gone; its messages, and so its dates, are not
                turns = [messages[i] for i in sorted(messages)
                         if messages[i].conversation_id == old.id]  # fmt: skip
                assert (new.title, new.created_at, new.updated_at) == (
                    RECOVERED_TITLE,
                    turns[0].created_at,
                    turns[-1].created_at,
                )
            else:
                assert new == old
            assert store.messages(old.id) == [
                messages[i] for i in sorted(messages) if messages[i].conversation_id == old.id
            ]
    finally:
        store.close()


def _fail_while_running(
    path: Path, page: int, lost: list[int], hit: int, caplog: pytest.LogCaptureFixture
) -> str:
    """Damage `page` (message `lost[0]` of conversation `hit` is on it) under an open Store,
    sound at open, and use it; returns the error every use of the page raises."""
    store = Store(path)
    try:
        assert store.recovery is None
        _write_page(path, page)
        # Another Folio's write makes this connection drop its cached pages, as any would.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("UPDATE app_state SET value = '2' WHERE key = 'first_run_done'")
        other.close()
        with pytest.raises(HistoryDamaged) as read:
            store.messages(hit)
        with pytest.raises(HistoryDamaged) as written:  # a write that reads the page
            store.delete_message(lost[0])
        assert str(written.value) == str(read.value)
        assert _terminal_lines(caplog) == []  # the CLI prints the error itself, once
        return str(read.value)
    finally:
        store.close()


def _damaged_mid_session(caplog: pytest.LogCaptureFixture):
    """A history of 12 chats whose middle messages page went bad under an open Store: the
    file, its messages before, the page, a chat on it, the sound bytes, the error raised."""
    path = _build(12, 10)
    _, messages = _snapshot(path)
    leaves = _leaves(path, "messages")
    page, lost = leaves[len(leaves) // 2]
    hit = messages[lost[0]].conversation_id
    original = path.read_bytes()
    error = _fail_while_running(path, page, lost, hit, caplog)
    return path, messages, page, hit, original, error


def test_damage_found_while_running_is_one_clear_error_then_repaired_at_the_next_start(
    caplog: pytest.LogCaptureFixture,
):
    path, messages, page, hit, original, error = _damaged_mid_session(caplog)
    assert error == (
        "Your chat history is damaged (database disk image is malformed). Folio repairs "
        "it the next time it starts, keeping every conversation it can still read."
    )
    # Even with the page sound again (damage quick_check cannot see, say an index that no
    # longer matches its table), the next start rebuilds the file, and says so once.
    size = _page_size(path)
    _write_page(path, page, original[(page - 1) * size : page * size])
    repaired = Store()
    try:
        assert repaired.recovery.message() == (
            "Your chat history was damaged; Folio recovered all 12 conversations "
            f"(120 messages). The damaged file is kept as {repaired.recovery.moved_to}."
        )
        assert repaired.messages(hit) == [m for m in messages.values() if m.conversation_id == hit]
    finally:
        repaired.close()
    again = Store()
    try:
        assert again.recovery is None
    finally:
        again.close()


def test_a_history_deleted_after_the_error_starts_afresh_without_a_notice(
    caplog: pytest.LogCaptureFixture,
):
    path = _damaged_mid_session(caplog)[0]
    for suffix in ("", "-wal", "-shm"):  # the user removes the damaged history
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    store = Store()
    try:
        assert (store.recovery, store.list_conversations()) == (None, [])
        assert _moved_aside(list(path.parent.iterdir())) == []
    finally:
        store.close()
