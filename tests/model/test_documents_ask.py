"""Asking about real documents: whole-document mode and retrieval mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents.library import DocumentLibrary
from tests.fixtures.pdf_factory import make_long_pdf, make_pdf
from tests.support import run_folio

pytestmark = pytest.mark.model


@pytest.fixture(autouse=True)
def short_answers(folio_home: Path) -> None:
    settings.save(settings.Settings(max_answer_tokens=64))


def test_ask_about_a_pdf_in_whole_mode(tmp_path: Path, folio_home: Path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(make_pdf(["Invoice 2026-117.", "The invoice total is 1,250 euros."]))
    out = run_folio("ask", str(pdf), "-q", "What is the invoice total?", "--stats",
                    home=folio_home)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Documents: whole document in view" in out.stderr
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    assert stats["prompt_tokens"] > 40


def test_long_pdf_uses_retrieval_with_page_locators(tmp_path: Path, smollm2_gguf: Path):
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(make_long_pdf(300))
    doc = DocumentLibrary().read(pdf)
    # A 4,096-token context keeps the excerpts (and this test) small.
    session = ChatSession.open(smollm2_gguf, settings.load(), [doc], n_ctx=4096)
    try:
        assert session.plan.mode == "retrieval"
        assert "most relevant passages" in session.plan.summary()
        message = session.user_message("What is the fee for item 217?", thinking=False)
        assert "[Page 217]" in message
        assert "Question: What is the fee for item 217?" in message
        events = list(session.ask("What is the fee for item 217?"))
        done = events[-1]
        assert done.stats.prompt_tokens <= session.engine.n_ctx
        assert session.conversation.turns[0][0].count("<passage") >= 1
    finally:
        session.close()
