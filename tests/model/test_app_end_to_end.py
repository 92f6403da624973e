"""The desktop app end to end with the real demo model: drop, ask, stream, restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop_app import settings as settings_mod
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.history.store import Store
from desktop_app.ui.main_window import MainWindow

pytestmark = pytest.mark.model


def open_window(qtbot, model: Path) -> MainWindow:
    settings = settings_mod.Settings(max_answer_tokens=48)
    window = MainWindow(Store(), SessionHost(model, settings))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "SmolLM2" in window.model_label.text(), timeout=60_000)
    return window


def test_drop_ask_stream_restart(qtbot, folio_home: Path, smollm2_gguf: Path, tmp_path: Path):
    notes = tmp_path / "invoice.txt"
    notes.write_text("Invoice 2026-117. The invoice total is 1,250 euros, due on 3 March 2026. "
                     "The supplier is Acme GmbH.\n", encoding="utf-8")  # fmt: skip
    window = open_window(qtbot, smollm2_gguf)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: len(window.store.documents(window.conversation_id)) == 1)
    qtbot.waitUntil(lambda: not window.preparing, timeout=60_000)
    assert window.documents.card_count() == 1
    deltas: list[str] = []
    shown = window.append_answer  # the controller tells its view; record each delta
    window.append_answer = lambda a, r: (deltas.append(a), shown(a, r))
    window.controller.send("What is the invoice total?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=120_000)
    cid = window.conversation_id
    messages = window.store.messages(cid)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content and messages[1].stats["decode_tokens"] > 0
    assert len(deltas) >= 2, "the answer streamed"
    window.close()

    again = open_window(qtbot, smollm2_gguf)
    try:
        assert again.conversation_id == cid
        assert again.chat.message_count() == 2
        assert [d.title for d in again.store.documents(cid)] == ["invoice.txt"]
    finally:
        again.close()
