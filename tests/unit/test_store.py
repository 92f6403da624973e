"""The chat history store: round trips, search, migrations, recovery and write speed."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import paths
from desktop_app.core.history import migrations
from desktop_app.core.history.store import FILE_NAME, Store
from desktop_app.core.schema import DatabaseTooNew, Schema, schema_version

# FTS5 query syntax and SQL wildcards: a search takes all of them as plain text.
FTS_SYNTAX = (
    '"|*|OR|-|NEAR(|NEAR(a b|a OR b|"unbalanced|foo*|-x|AND|NOT|^|:|content:x|(|)|{a b}'.split("|")
    + ["'", "%", "_", "\\", "+", "|"]
)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    yield s
    s.close()


def _reopen(store: Store) -> Store:
    store.close()
    return Store(store.path)


def test_default_location_is_in_the_data_dir(store: Store):
    assert store.path == paths.data_dir() / FILE_NAME
    assert store.path.exists()
    assert store.recovery is None


def test_create_list_rename_delete_with_cascade(store: Store):
    a = store.create_conversation()
    b = store.create_conversation("Contract questions")
    assert a.title == "New chat"
    assert store.conversation(b.id) == b
    assert [c.id for c in store.list_conversations()] == [b.id, a.id]

    store.rename_conversation(a.id, "Renamed")
    assert store.conversation(a.id).title == "Renamed"
    assert [c.id for c in store.list_conversations()] == [a.id, b.id]

    m = store.add_message(b.id, "user", "hello")
    store.attach_document(
        b.id, sha256="ab" * 32, path="/x.pdf", title="x", type="pdf", pages=1, tokens=10
    )
    store.set_draft(b.id, "half a question")
    store.delete_conversation(b.id)
    assert store.conversation(b.id) is None
    assert store.messages(b.id) == []
    assert store.documents(b.id) == []
    assert store.draft(b.id) == ""
    assert [c.id for c in store.list_conversations()] == [a.id]
    # Nothing is left behind in the tables or the search index.
    db = sqlite3.connect(store.path)
    for table in ("messages", "documents", "drafts"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert (
        db.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'").fetchone()[
            0
        ]
        == 0
    )
    db.close()
    store.update_message(m.id, content="streamed into a deleted chat")  # ignored, no error
    store.delete_message(m.id)


def test_writes_move_the_conversation_to_the_top(store: Store):
    a, b, c = (store.create_conversation(t) for t in "abc")
    assert [r.title for r in store.list_conversations()] == ["c", "b", "a"]
    msg = store.add_message(a.id, "user", "q")
    assert [r.title for r in store.list_conversations()] == ["a", "c", "b"]
    store.attach_document(
        b.id, sha256="cd" * 32, path="/y.txt", title="y", type="text", pages=None, tokens=3
    )
    assert [r.title for r in store.list_conversations()] == ["b", "a", "c"]
    store.update_message(msg.id, content="q2")
    assert [r.title for r in store.list_conversations()] == ["a", "b", "c"]
    store.set_draft(c.id, "typing does not reorder")
    assert [r.title for r in store.list_conversations()] == ["a", "b", "c"]
    updated = store.conversation(a.id)
    assert updated.updated_at > updated.created_at


def test_messages_in_order_with_stats_and_unicode(store: Store):
    conv = store.create_conversation()
    texts = ["Zahlung binnen 30 Tagen — 契約 🙂", "", "line\nbreak\ttab \x00 nul"]
    stats = {"tokens": 12, "tok_per_s": 34.5, "nested": {"ctx": [1, 2]}, "name": "Ünï"}
    rows = [
        store.add_message(conv.id, role, text, stats=stats if i == 1 else None)
        for i, (role, text) in enumerate(zip(["user", "assistant", "user"], texts, strict=True))
    ]
    assert store.messages(conv.id) == rows
    assert [m.content for m in store.messages(conv.id)] == texts
    assert store.messages(conv.id)[1].stats == stats
    assert store.messages(conv.id)[0].stats is None
    assert store.messages(conv.id)[0].reasoning == ""


def test_lone_surrogates_do_not_fail_a_write(store: Store):
    conv = store.create_conversation("bad \udc80 title")
    msg = store.add_message(conv.id, "assistant", "bytes \ud800 from a model")
    assert store.messages(conv.id) == [msg]
    assert "\ud800" not in msg.content
    doc = store.attach_document(
        conv.id, sha256="ef" * 32, path="/docs/na\udcefve.pdf", title="t", type="pdf",
        pages=None, tokens=None,
    )  # fmt: skip
    assert store.documents(conv.id)[0].path == "/docs/na\udcefve.pdf" == doc.path


def test_update_message_changes_only_the_given_fields(store: Store):
    conv = store.create_conversation()
    msg = store.add_message(conv.id, "assistant", "Par", reasoning="think", finish_reason=None)
    store.update_message(msg.id, content="Partial answer")
    (row,) = store.messages(conv.id)
    assert (row.content, row.reasoning, row.stats, row.finish_reason) == (
        "Partial answer",
        "think",
        None,
        None,
    )
    store.update_message(msg.id, stats={"tokens": 3}, finish_reason="stop")
    (row,) = store.messages(conv.id)
    assert (row.content, row.reasoning, row.stats, row.finish_reason) == (
        "Partial answer",
        "think",
        {"tokens": 3},
        "stop",
    )
    store.update_message(msg.id, reasoning="", content="")
    (row,) = store.messages(conv.id)
    assert (row.content, row.reasoning, row.stats) == ("", "", {"tokens": 3})
    assert row.created_at == msg.created_at and row.id == msg.id


def test_delete_message(store: Store):
    conv = store.create_conversation()
    first = store.add_message(conv.id, "user", "one")
    second = store.add_message(conv.id, "assistant", "two")
    store.delete_message(first.id)
    assert store.messages(conv.id) == [second]
    assert store.list_conversations("one") == []


def test_ids_are_never_reused(store: Store):
    conv = store.create_conversation()
    old = store.add_message(conv.id, "user", "x")
    store.delete_message(old.id)
    assert store.add_message(conv.id, "user", "y").id != old.id


def test_adding_to_a_missing_conversation_raises(store: Store):
    with pytest.raises(KeyError):
        store.add_message(999, "user", "lost")
    with pytest.raises(KeyError):
        store.attach_document(
            999, sha256="00" * 32, path="/p", title="t", type="pdf", pages=None, tokens=None
        )
    store.set_draft(999, "nothing to keep")  # ignored
    assert store.draft(999) == ""


def _seed_search(store: Store) -> dict[str, int]:
    ids = {}
    for title, content in [
        ("Lease agreement", "When is the rent due?"),
        ("New chat", 'The "payment terms" say: net 30, see résumé and ÜBERWEISUNG'),
        ("Travel", "Pack an e-mail adapter"),
    ]:
        conv = store.create_conversation(title)
        store.add_message(conv.id, "user", content)
        ids[title] = conv.id
    return ids


def _search_titles(store: Store, query: str) -> set[str]:
    return {c.title for c in store.list_conversations(query)}


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "fallback"])
def test_search_by_title_and_message_content(fts: bool, monkeypatch: pytest.MonkeyPatch):
    if not fts:
        monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    store = Store()
    try:
        _seed_search(store)
        assert _search_titles(store, "") == {"Lease agreement", "New chat", "Travel"}
        assert _search_titles(store, "LEASE") == {"Lease agreement"}
        assert _search_titles(store, "agree") == {"Lease agreement"}  # title: substring
        assert _search_titles(store, "rent") == {"Lease agreement"}  # content
        assert _search_titles(store, "payment TERMS") == {"New chat"}  # all words, any case
        assert _search_titles(store, "überweisung") == {"New chat"}  # non-ASCII case folding
        assert _search_titles(store, '"payment') == {"New chat"}
        assert _search_titles(store, "e-mail") == {"Travel"}
        assert _search_titles(store, "rent payment") == set()  # words in different chats
        assert _search_titles(store, "zebra") == set()
        assert _search_titles(store, "%") == _search_titles(store, "_") == set()
        for query in FTS_SYNTAX:
            store.list_conversations(query)  # never an error
    finally:
        store.close()


def test_search_index_follows_updates_and_deletes(store: Store):
    conv = store.create_conversation("t")
    msg = store.add_message(conv.id, "assistant", "draft answer")
    store.update_message(msg.id, content="final verdict")
    assert _search_titles(store, "verdict") == {"t"}
    assert _search_titles(store, "draft") == set()
    store.update_message(msg.id, stats={"tokens": 2})  # not content: the index is untouched
    assert _search_titles(store, "verdict") == {"t"}


def test_search_index_catches_up_after_running_without_fts5(monkeypatch: pytest.MonkeyPatch):
    first = Store()
    conv = first.create_conversation("t")
    first.add_message(conv.id, "user", "before")
    first.close()
    with monkeypatch.context() as m:
        m.setattr(migrations, "fts5_available", lambda db: False)
        without = Store()
        without.add_message(conv.id, "user", "meanwhile")
        assert _search_titles(without, "meanwhile") == {"t"}
        without.close()
    again = Store()
    try:
        assert again._fts
        assert _search_titles(again, "meanwhile") == {"t"}
        assert _search_titles(again, "before") == {"t"}
    finally:
        again.close()


def test_documents_attach_once_per_conversation(store: Store):
    a = store.create_conversation()
    b = store.create_conversation()
    kwargs = dict(
        sha256="12" * 32, path="/docs/Vertrag.pdf", title="Vertrag", type="pdf", pages=3,
        tokens=1500, warnings=["Pages 2–3 have no text layer."],
    )  # fmt: skip
    first = store.attach_document(a.id, **kwargs)
    assert first.warnings == ["Pages 2–3 have no text layer."]
    assert first.pages == 3 and first.tokens == 1500
    assert store.attach_document(a.id, **{**kwargs, "path": "/moved.pdf"}) == first
    other = store.attach_document(b.id, **kwargs)
    assert other.id != first.id and other.conversation_id == b.id
    second = store.attach_document(
        a.id, sha256="34" * 32, path="/n.txt", title="n", type="text", pages=None, tokens=None
    )
    assert store.documents(a.id) == [first, second]
    assert second.warnings == [] and second.pages is None
    store.detach_document(first.id)
    assert store.documents(a.id) == [second]
    assert store.documents(b.id) == [other]
    store.detach_document(first.id)  # already gone: ignored


def test_drafts_and_state_round_trip(store: Store):
    conv = store.create_conversation()
    assert store.draft(conv.id) == ""
    store.set_draft(conv.id, "What does §4 mean?")
    store.set_draft(conv.id, "What does §4 mean? ✍")
    assert store.draft(conv.id) == "What does §4 mean? ✍"
    store.set_draft(conv.id, "")
    assert store.draft(conv.id) == ""
    assert store.app_state("open_conversation") is None
    store.set_app_state("open_conversation", str(conv.id))
    store.set_app_state("open_conversation", "7")
    assert store.app_state("open_conversation") == "7"
    store.set_app_state("open_conversation", None)
    assert store.app_state("open_conversation") is None


def test_everything_survives_a_restart(store: Store):
    conv = store.create_conversation("Kept")
    msg = store.add_message(conv.id, "assistant", "answer", stats={"t": 1.5}, finish_reason="stop")
    doc = store.attach_document(
        conv.id, sha256="56" * 32, path="/a.docx", title="A", type="docx", pages=None, tokens=9
    )
    store.set_draft(conv.id, "next question")
    store.set_app_state("open_conversation", str(conv.id))
    conv = store.conversation(conv.id)
    restarted = _reopen(store)
    try:
        assert restarted.list_conversations() == [conv]
        assert restarted.messages(conv.id) == [msg]
        assert restarted.documents(conv.id) == [doc]
        assert restarted.draft(conv.id) == "next question"
        assert restarted.app_state("open_conversation") == str(conv.id)
        assert _search_titles(restarted, "answer") == {"Kept"}
    finally:
        restarted.close()


def test_close_twice_is_harmless(store: Store):
    store.close()
    store.close()


def test_a_worker_thread_can_write_while_the_ui_thread_does(store: Store):
    conv = store.create_conversation()
    answer = store.add_message(conv.id, "assistant", "")
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for n in range(200):
                store.update_message(answer.id, content="token " * n)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=stream)
    worker.start()
    for n in range(200):
        store.set_draft(conv.id, f"typing {n}")
        store.list_conversations("token")
    worker.join()
    assert errors == []
    assert store.messages(conv.id)[0].content == "token " * 199
    assert store.draft(conv.id) == "typing 199"


def test_two_windows_share_one_database(store: Store):
    other = Store()
    try:
        conv = store.create_conversation("from one")
        other.add_message(conv.id, "user", "from two")
        assert [m.content for m in store.messages(conv.id)] == ["from two"]
        assert [c.title for c in other.list_conversations("two")] == ["from one"]
    finally:
        other.close()


def _pragma(path: Path, name: str) -> object:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


def test_fresh_database_is_at_the_latest_version_in_wal_mode(store: Store):
    assert _pragma(store.path, "user_version") == len(migrations.HISTORY.steps)
    assert _pragma(store.path, "journal_mode") == "wal"
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_empty_database_at_version_zero_migrates(tmp_path: Path):
    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()
    assert _pragma(path, "user_version") == 0
    store = Store(path)
    try:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "works")
    finally:
        store.close()
    assert _pragma(path, "user_version") == len(migrations.HISTORY.steps)


def test_database_from_a_newer_folio_is_refused_untouched(tmp_path: Path):
    path = tmp_path / FILE_NAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    before = path.read_bytes()
    known = len(migrations.HISTORY.steps)
    with pytest.raises(DatabaseTooNew) as info:
        Store(path)
    assert str(info.value) == (
        f"This Folio is older than your chat history database (schema 99 > {known}); update Folio."
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]


def test_failing_migration_leaves_the_previous_version_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def step_one(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE one (x)")

    def step_two(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE two (x)")
        db.execute("INSERT INTO one VALUES (1)")
        raise RuntimeError("crash half-way")

    schema = Schema("test database")
    schema.steps = [step_one, step_two]
    db = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    with pytest.raises(RuntimeError):
        schema.migrate(db)
    assert schema_version(db) == 1
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"one"}
    assert db.execute("SELECT count(*) FROM one").fetchone()[0] == 0
    db.close()


def test_migration_decorator_registers_in_order():
    schema = Schema("test database")

    @schema.migration
    def m001(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE a (x)")

    @schema.migration
    def m002(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE a ADD COLUMN y")

    assert schema.steps == [m001, m002]
    db = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(db)
    schema.migrate(db)  # nothing left to do
    assert schema_version(db) == 2
    assert [row[1] for row in db.execute("PRAGMA table_info(a)")] == ["x", "y"]
    db.close()


@pytest.mark.parametrize("garbage", [b"garbage " * 512, b"not sqlite"], ids=["long", "short"])
def test_corrupt_file_is_moved_aside_and_a_fresh_store_works(
    garbage: bytes, caplog: pytest.LogCaptureFixture
):
    path = paths.data_dir() / FILE_NAME
    path.write_bytes(garbage)
    store = Store()
    try:
        moved = store.recovery.moved_to
        assert moved.name.startswith(f"{FILE_NAME}.corrupt-")
        assert moved.read_bytes() == garbage
        assert store.recovery.message() == (
            "Your chat history could not be read (the file is damaged), so Folio started a "
            f"new one. Nothing was deleted: the old file is kept as {moved}. "
            "A backup or a tool like `sqlite3 .recover` may get its chats back."
        )
        assert "damaged" in caplog.text
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "fresh start")
        assert [c.id for c in store.list_conversations("fresh")] == [conv.id]
    finally:
        store.close()
    again = Store()
    try:
        assert again.recovery is None
        assert len(again.list_conversations()) == 1
    finally:
        again.close()


def test_corrupt_files_never_overwrite_each_other():
    path = paths.data_dir() / FILE_NAME
    moved = []
    for n in range(2):
        path.write_bytes(b"junk %d" % n * 100)
        store = Store()
        moved.append(store.recovery.moved_to)
        store.close()
        path.unlink()
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    assert moved[0] != moved[1]
    assert [p.read_bytes()[:6] for p in moved] == [b"junk 0", b"junk 1"]


def test_update_message_of_20kb_is_fast(store: Store):
    conv = store.create_conversation()
    for n in range(20):  # a realistic history around the message being streamed
        store.add_message(conv.id, "user" if n % 2 else "assistant", f"earlier message {n} " * 200)
    msg = store.add_message(conv.id, "assistant", "")
    base = "The payment terms in clause 4.2 require settlement within 30 days. " * 300
    times = []
    for n in range(40):
        content = base[: 20_000 - 40 + n]  # a growing answer, about 20 KB
        start = time.perf_counter()
        store.update_message(msg.id, content=content)
        times.append(time.perf_counter() - start)
    assert len(store.messages(conv.id)[-1].content) >= 19_960
    median_ms = statistics.median(times) * 1000
    print(f"update_message 20 KB: median {median_ms:.2f} ms, max {max(times) * 1000:.2f} ms")
    assert median_ms < 50
