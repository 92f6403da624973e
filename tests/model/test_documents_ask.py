"""Asking about real documents: whole-document mode and retrieval mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.chat.conversation import Attachment, document_block
from desktop_app.core.chat.session import ChatSession
from desktop_app.core.documents.library import DocumentLibrary
from tests.fixtures.pdf_factory import make_long_pdf, make_pdf
from tests.support import run_folio

pytestmark = pytest.mark.model


@pytest.fixture(autouse=True)
def short_answers(folio_home: Path) -> None:
    settings.save(settings.Settings(max_answer_tokens=64))


def prompt_tokens(engine, system: str, question: str) -> int:
    """Tokens of the prompt a first question with system message `system` renders to."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return len(engine.tokenize(engine.render(messages, thinking=False)))


def test_ask_about_a_pdf_in_whole_mode(tmp_path: Path, folio_home: Path, smollm2_engine):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(make_pdf(["Invoice 2026-117.", "The invoice total is 1,250 euros."]))
    question = "What is the invoice total?"
    out = run_folio("ask", str(pdf), "-q", question, "--stats", home=folio_home)
    assert out.returncode == 0, out.stderr
    assert "Documents: whole document in view" in out.stderr
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    # The document's text reached the prompt: the prompt is exactly the system prompt with
    # the document block and the question, which is the document's own tokens and more than
    # the same prompt without it (the demo model, `folio ask`'s default, counts both).
    text = DocumentLibrary().read(pdf).model_text()
    assert "Invoice 2026-117." in text and "The invoice total is 1,250 euros." in text
    system = settings.load().system_prompt
    block = document_block([Attachment("invoice.pdf", text)])
    with_document = prompt_tokens(smollm2_engine, f"{system}\n\n{block}", question)
    without = prompt_tokens(smollm2_engine, system, question)
    assert with_document - without >= smollm2_engine.count_tokens(text)
    assert stats["prompt_tokens"] == with_document


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
