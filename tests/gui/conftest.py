"""Fixtures shared by the window tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.history.store import Store
from desktop_app.ui.main_window import MainWindow
from tests.fixtures.fake_host import FakeHost


@pytest.fixture(autouse=True)
def warnings_shown(monkeypatch) -> list[str]:
    """The warning dialogs the window showed: recorded instead of blocking the test (a modal
    box offscreen waits forever for a click)."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    # desktop_app/ui/message_box.py builds its boxes (plain text) and runs them.
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    # ...and the window-modal ones the controller's handlers open (message_box.notify).
    monkeypatch.setattr(QMessageBox, "open", lambda box, *a: shown.append(box.text()))
    return shown


@pytest.fixture
def make_window(qtbot, folio_home: Path):
    made: list[MainWindow] = []

    def make(host: FakeHost | None = None) -> MainWindow:
        window = MainWindow(Store(), host or FakeHost())
        qtbot.addWidget(window)
        made.append(window)
        qtbot.waitUntil(lambda: window.model_label.text().startswith("Fake model"))
        return window

    yield make
    for window in made:
        window.close()
