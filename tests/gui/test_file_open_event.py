"""macOS hands a double-clicked document to Folio as a QFileOpenEvent, not in argv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QFileOpenEvent

from desktop_app.ui.file_open import OPENED_LOG_ENV, DocumentRouter
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.single_instance import HandOff


@pytest.fixture
def opened_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "opened.log"
    monkeypatch.setenv(OPENED_LOG_ENV, str(log))
    return log


def write(path: Path, text: str = "The fee is 1,250 euros.") -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def documents_of(window: MainWindow, conversation_id: int) -> list[str]:
    return [d.path for d in window.store.documents(conversation_id)]


def documents(window: MainWindow) -> list[str]:
    return documents_of(window, window.conversation_id or 0)


def test_a_file_open_event_opens_the_document_in_a_new_chat(
    qtbot, qapp, make_window, tmp_path: Path, opened_log: Path
):
    doc = write(tmp_path / "contract.txt")
    router = DocumentRouter(qapp)
    window = make_window()
    router.attach(window, [])
    window.store.add_message(window.conversation_id, "user", "An earlier question")
    before = window.conversation_id
    QCoreApplication.sendEvent(qapp, QFileOpenEvent(str(doc)))
    qtbot.waitUntil(lambda: documents(window) == [str(doc)], timeout=10_000)
    assert window.conversation_id != before
    assert documents_of(window, before) == []  # the earlier chat is left as it was
    qtbot.waitUntil(lambda: window.documents.card_count() == 1)
    assert opened_log.read_text(encoding="utf-8").splitlines() == [str(doc)]


def test_a_document_opened_at_start_fills_the_blank_chat(qtbot, qapp, make_window, tmp_path: Path):
    """Double-clicking a PDF to start Folio leaves one chat with it, not an extra empty one."""
    doc = write(tmp_path / "contract.txt")
    window = make_window()
    chats = [c.id for c in window.store.list_conversations()]
    blank = window.conversation_id
    DocumentRouter(qapp).attach(window, [str(doc)])
    qtbot.waitUntil(lambda: documents(window) == [str(doc)], timeout=10_000)
    assert window.conversation_id == blank
    assert [c.id for c in window.store.list_conversations()] == chats
    assert window.sidebar.list.count() == len(chats)


def test_documents_opened_together_share_one_chat(qtbot, qapp, make_window, tmp_path: Path):
    a, b = write(tmp_path / "a.txt"), write(tmp_path / "b.txt", "Other text.")
    router = DocumentRouter(qapp)
    window = make_window()
    router.attach(window, [])
    window.store.add_message(window.conversation_id, "user", "An earlier question")
    chats = len(window.store.list_conversations())
    # Finder opening two selected files: one Apple Event, two QFileOpenEvents in a row.
    QCoreApplication.postEvent(qapp, QFileOpenEvent(QUrl.fromLocalFile(str(a))))
    QCoreApplication.postEvent(qapp, QFileOpenEvent(QUrl.fromLocalFile(str(b))))
    qtbot.waitUntil(lambda: sorted(documents(window)) == [str(a), str(b)], timeout=10_000)
    assert len(window.store.list_conversations()) == chats + 1


def test_events_before_the_window_exists_wait_for_it(
    qtbot, qapp, make_window, tmp_path: Path, opened_log: Path
):
    """A document double-clicked to start Folio on macOS arrives while it is starting up."""
    early = write(tmp_path / "early.txt")
    router = DocumentRouter(qapp)
    QCoreApplication.sendEvent(qapp, QFileOpenEvent(str(early)))
    qapp.processEvents()
    assert not opened_log.exists()  # nothing can take it yet
    window = make_window()
    router.attach(window, [])
    qtbot.waitUntil(lambda: documents(window) == [str(early)], timeout=10_000)
    assert opened_log.read_text(encoding="utf-8").splitlines() == [str(early)]


def test_a_url_that_is_not_a_file_is_ignored(qtbot, qapp, make_window, opened_log: Path):
    router = DocumentRouter(qapp)
    window = make_window()
    router.attach(window, [])
    chats = len(window.store.list_conversations())
    QCoreApplication.sendEvent(qapp, QFileOpenEvent(QUrl("https://example.com/a.pdf")))
    qapp.processEvents()
    assert len(window.store.list_conversations()) == chats and not opened_log.exists()


def test_the_log_is_written_after_the_window_took_the_files(
    qtbot, qapp, make_window, tmp_path: Path, opened_log: Path, monkeypatch
):
    """CI reads the log as proof the window has the file: never before it does."""
    doc = write(tmp_path / "notes.txt")
    window = make_window()
    seen_at_call: list[bool] = []
    original = window.open_files

    def open_files(paths) -> None:
        seen_at_call.append(opened_log.exists())
        original(paths)

    monkeypatch.setattr(window, "open_files", open_files)
    router = DocumentRouter(qapp)
    router.attach(window, [str(doc)])
    assert seen_at_call == [False]
    assert opened_log.read_text(encoding="utf-8").splitlines() == [str(doc)]


def test_a_hand_off_brings_the_window_forward(qtbot, qapp, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_ACTIVATION_TOKEN", "spent-token")  # restored after the test
    doc = write(tmp_path / "handed.txt")
    router = DocumentRouter(qapp)
    window = make_window()
    router.attach(window, [])
    window.showMinimized()
    router.hand_over(HandOff((str(doc),), activation_token="desktop-token"))
    assert window.isVisible() and not window.isMinimized()
    qtbot.waitUntil(lambda: documents(window) == [str(doc)], timeout=10_000)
    # Where Qt's Wayland plugin looks (and clears it) when the window asks for the focus.
    assert os.environ["XDG_ACTIVATION_TOKEN"] == "desktop-token"
