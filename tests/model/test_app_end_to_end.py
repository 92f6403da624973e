"""The desktop app end to end with the real demo model: drop, ask, stream, restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop_app import settings as settings_mod
from desktop_app.core.chat.cards import DocState, DocumentCard
from desktop_app.core.chat.conversation import Attachment, document_block
from desktop_app.core.chat.session_host import SessionHost
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.history.store import Store
from desktop_app.ui.main_window import MainWindow

pytestmark = pytest.mark.model


def open_window(qtbot, model: Path) -> MainWindow:
    settings = settings_mod.Settings(max_answer_tokens=48)
    window = MainWindow(Store(), SessionHost(model, settings))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "SmolLM2" in window.model_label.text(), timeout=60_000)
    return window


def test_drop_ask_stream_restart(
    qtbot, folio_home: Path, smollm2_gguf: Path, smollm2_engine, tmp_path: Path
):
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
    question = "What is the invoice total?"
    window.controller.send(question)
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=120_000)
    cid = window.conversation_id
    messages = window.store.messages(cid)
    assert [m.role for m in messages] == ["user", "assistant"]
    answer = messages[1]
    assert answer.content and answer.stats["decode_tokens"] > 0
    assert answer.finish_reason in ("stop", "length")
    assert "".join(deltas) == answer.content, "the answer streamed, and all of it was saved"
    assert len(deltas) >= 2
    # The document reached the prompt: it was exactly the system prompt with the file's text
    # in the document block, then the question (counted here by a second copy of the model).
    text = DocumentLibrary().read(notes).model_text()
    system = {"role": "system", "content": f"{window.host.settings.system_prompt}\n\n"
              + document_block([Attachment("invoice.txt", text)])}  # fmt: skip
    rendered = smollm2_engine.render([system, {"role": "user", "content": question}],
                                     thinking=False)  # fmt: skip
    assert "The invoice total is 1,250 euros" in rendered
    assert answer.stats["prompt_tokens"] == len(smollm2_engine.tokenize(rendered))
    before = only_card(window)
    window.close()

    again = open_window(qtbot, smollm2_gguf)
    try:
        assert again.conversation_id == cid
        assert again.chat.message_count() == 2
        shown_answer = again.chat.message(1)
        assert shown_answer.content == answer.content
        assert shown_answer.finish_reason == answer.finish_reason
        assert [d.title for d in again.store.documents(cid)] == ["invoice.txt"]
        qtbot.waitUntil(lambda: not again.preparing, timeout=60_000)
        after = only_card(again)
        assert (after.name, after.state, after.tokens, after.verdict) == (
            "invoice.txt",
            DocState.READY,
            before.tokens,
            "whole document in view",
        )
        assert before.state is DocState.READY and before.tokens > 20
    finally:
        again.close()


def only_card(window: MainWindow) -> DocumentCard:
    [document] = window.store.documents(window.conversation_id)
    card = window.documents.card(document.sha256)
    assert card is not None and window.documents.card_count() == 1
    return card


def test_the_local_api_answers_with_the_windows_model(
    qtbot, folio_home: Path, smollm2_gguf: Path, monkeypatch
):
    """Settings → Local API: the server runs inside the app, on the window's engine queue,
    with the model the window loaded (no second copy)."""
    import threading

    import openai

    from desktop_app.core.llm.engine import Engine
    from tests.support import free_port

    loads: list[object] = []
    real_load = Engine.load.__func__
    monkeypatch.setattr(Engine, "load", classmethod(
        lambda cls, *a, **k: loads.append(a) or real_load(cls, *a, **k)))  # fmt: skip
    port = free_port()
    settings = settings_mod.Settings(max_answer_tokens=48, api_server=True, api_port=port)
    window = MainWindow(Store(), SessionHost(smollm2_gguf, settings))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "SmolLM2" in window.model_label.text(), timeout=60_000)
    assert window.api_server is not None
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
    replies: list[object] = []
    threading.Thread(target=lambda: replies.append(client.chat.completions.create(
        model="qwen3.5:9b", messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=6))).start()  # fmt: skip
    qtbot.waitUntil(lambda: bool(replies), timeout=60_000)
    [reply] = replies
    assert reply.choices[0].message.content and reply.usage.completion_tokens == 6
    assert len(loads) == 1  # the window's model answered: none was loaded for the API
    # The window still answers afterwards, on the same engine.
    window.controller.send("What is 2 + 2?")
    qtbot.waitUntil(lambda: not window.controller.answering, timeout=60_000)
    answer = window.store.messages(window.conversation_id)[-1]
    assert answer.content and answer.finish_reason in ("stop", "length")
    window.close()
    assert window.api_server is None
    with pytest.raises(openai.APIConnectionError):
        client.models.list()  # closing the window stopped the server
