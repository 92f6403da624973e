"""A conversation as the model sees it: system prompt, documents, turns.

Layout: `[system prompt + document block][turn 1]…[turn n][question]`. The
documents sit in the system message so that they form one stable prefix that
never changes between turns; the prompt cache can then reuse everything up to
the newest question. Only the visible answer of earlier turns is kept: the
reasoning is never fed back (Qwen3.5's template drops it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from desktop_app.core.documents.model import OCR_MARK, Document
from desktop_app.core.llm.chat_template import Message


@dataclass(frozen=True)
class Attachment:
    """A document's name and the exact text the model will see."""

    name: str
    text: str


#: Said when pages read by OCR are among what the model is given (whole or as excerpts).
SCANS_NOTICE = (
    f"Pages marked [Page N{OCR_MARK}] are scans read by OCR: a figure, name or date there may "
    "be misread, so say so when an answer depends on one. Cite them like any page: [Page N: "
    '"the exact words"].'
)


def document_block(documents: Sequence[Attachment]) -> str:
    if not documents:
        return ""
    count = "1 document" if len(documents) == 1 else f"{len(documents)} documents"
    parts = [f"The user has attached {count}, given in full below."]
    if any(f"{OCR_MARK}]" in doc.text for doc in documents):
        parts.append(SCANS_NOTICE)
    for doc in documents:
        name = doc.name.replace('"', "'")
        parts.append(f'<document name="{name}">\n{doc.text.strip()}\n</document>')
    return "\n\n".join(parts)


def excerpt_notice(names: Sequence[str]) -> str:
    """Retrieval mode: tell the model the documents are too long to show whole."""
    listed = ", ".join(f'"{n}"' for n in names)
    return (
        f"The user has attached {listed}. They are too long to show in full, so each "
        "question comes with the most relevant excerpts, each marked with its page or "
        "section. Say so when the excerpts do not contain the answer."
    )


def with_excerpts(question: str, excerpts: str) -> str:
    """The user message of a retrieval-mode turn: excerpts first, then the question."""
    return f"Excerpts from the documents:\n\n{excerpts}\n\nQuestion: {question}"


@dataclass
class Conversation:
    system_prompt: str
    #: Whole-document mode: documents shown in full in the system message.
    documents: list[Attachment] = field(default_factory=list)
    #: Retrieval mode: names of documents that questions quote excerpts from.
    excerpted: list[str] = field(default_factory=list)
    #: Retrieval mode: some excerpts may come from pages read by OCR.
    scanned: bool = False
    #: (user message as sent, visible answer) pairs in order.
    turns: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def planned(
        cls, system_prompt: str, documents: Sequence[Document], whole: bool
    ) -> Conversation:
        """The documents in full (whole-document mode), or named for excerpts."""
        if whole:
            return cls(system_prompt, [Attachment(d.path.name, d.model_text()) for d in documents])
        scanned = any(d.ocr_pages() for d in documents)
        return cls(system_prompt, excerpted=[d.path.name for d in documents], scanned=scanned)

    def system_message(self) -> Message:
        parts = [self.system_prompt, document_block(self.documents)]
        if self.excerpted:
            parts.append(excerpt_notice(self.excerpted))
        if self.excerpted and self.scanned:
            parts.append(SCANS_NOTICE)
        return {"role": "system", "content": "\n\n".join(p for p in parts if p)}

    def history(self) -> list[Message]:
        """The system message and every turn so far."""
        messages = [self.system_message()]
        for asked, answered in self.turns:
            messages.append({"role": "user", "content": asked})
            messages.append({"role": "assistant", "content": answered})
        return messages

    def messages_for(self, question: str) -> list[Message]:
        """The messages to render for asking `question` next."""
        return [*self.history(), {"role": "user", "content": question}]

    def record(self, question: str, answer: str) -> None:
        self.turns.append((question, answer))
