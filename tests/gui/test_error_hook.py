"""An unexpected error, on the UI thread or another, reaches the log and one dialog."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop_app.ui import error_hook


@pytest.fixture
def hooked(qapp, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    error_hook.install(qapp)
    return shown


def test_an_error_on_the_ui_thread_is_logged_and_shown(qtbot, hooked, caplog, folio_home):
    try:
        raise ValueError("the citation index is out of range")
    except ValueError:
        with caplog.at_level(logging.ERROR):
            sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: bool(hooked))
    assert "the citation index is out of range" in hooked[0] and "folio.log" in hooked[0]
    assert "Your chats are saved" in hooked[0]
    record = next(r for r in caplog.records if r.name == "desktop_app.ui.error_hook")
    assert record.exc_info and record.exc_info[0] is ValueError  # the traceback is logged


def test_an_error_on_a_helper_thread_reaches_the_ui_thread(qtbot, hooked, folio_home):
    def work() -> None:
        raise RuntimeError("a look-up thread crashed")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(hooked))
    assert "a look-up thread crashed" in hooked[0]


def test_an_error_written_for_the_user_is_shown_as_it_is(qtbot, hooked, folio_home):
    from desktop_app.core.history.store import HistoryDamaged

    message = "Your chat history is damaged (database disk image is malformed)."
    try:
        raise HistoryDamaged(message)
    except HistoryDamaged:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: bool(hooked))
    assert hooked == [message]
