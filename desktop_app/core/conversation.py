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

from desktop_app.core.chat_template import Message


@dataclass(frozen=True)
class Attachment:
    """A document's name and the exact text the model will see."""

    name: str
    text: str


def document_block(documents: Sequence[Attachment]) -> str:
    if not documents:
        return ""
    count = "1 document" if len(documents) == 1 else f"{len(documents)} documents"
    parts = [f"The user has attached {count}, given in full below."]
    for doc in documents:
        name = doc.name.replace('"', "'")
        parts.append(f'<document name="{name}">\n{doc.text.strip()}\n</document>')
    return "\n\n".join(parts)


@dataclass
class Conversation:
    system_prompt: str
    documents: list[Attachment] = field(default_factory=list)
    #: (question, visible answer) pairs in order.
    turns: list[tuple[str, str]] = field(default_factory=list)

    def system_message(self) -> Message:
        block = document_block(self.documents)
        content = f"{self.system_prompt}\n\n{block}" if block else self.system_prompt
        return {"role": "system", "content": content}

    def messages_for(self, question: str) -> list[Message]:
        """The messages to render for asking `question` next."""
        messages = [self.system_message()]
        for asked, answered in self.turns:
            messages.append({"role": "user", "content": asked})
            messages.append({"role": "assistant", "content": answered})
        messages.append({"role": "user", "content": question})
        return messages

    def record(self, question: str, answer: str) -> None:
        self.turns.append((question, answer))
