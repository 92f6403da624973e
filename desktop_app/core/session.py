"""A chat session: the model loaded with a context sized for the documents,
plus the conversation. Shared by the CLI and (later) the Qt worker so that
both size contexts and record turns the same way."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.conversation import Attachment, Conversation
from desktop_app.core.engine import Done, Engine, EngineConfig, Event
from desktop_app.core.hardware import Hardware
from desktop_app.core.model_files import read_model_info
from desktop_app.core.placement import fit_context
from desktop_app.core.sampling import preset_for
from desktop_app.core.tokenizer import VocabOnly
from desktop_app.settings import Settings

#: Room for the user's questions (and the template's markup) in a sized context.
QUESTION_ROOM = 1024


def needed_context(model_path: Path, conversation: Conversation, max_answer_tokens: int) -> int:
    """Tokens the first question needs: system prompt + documents + question + answer."""
    with VocabOnly(model_path) as vocab:
        prefix = vocab.count(conversation.system_message()["content"])
    return prefix + QUESTION_ROOM + max_answer_tokens


@dataclass
class ChatSession:
    engine: Engine
    conversation: Conversation
    settings: Settings

    @classmethod
    def open(
        cls,
        model_path: Path,
        settings: Settings,
        documents: Sequence[Attachment] = (),
        *,
        n_ctx: int | None = None,
        hardware: Hardware | None = None,
    ) -> ChatSession:
        conversation = Conversation(settings.system_prompt, list(documents))
        if n_ctx is None:
            n_ctx = settings.n_ctx
        if n_ctx is None:
            info = read_model_info(model_path)
            n_ctx = fit_context(
                info, needed_context(model_path, conversation, settings.max_answer_tokens)
            )
        config = EngineConfig(
            model_path=model_path,
            n_ctx=n_ctx,
            gpu_layers=settings.gpu_layers,
            n_threads=settings.n_threads,
            flash_attn=settings.flash_attn,
            kv_cache_type=settings.kv_cache_type,
        )
        return cls(Engine.load(config, hardware=hardware), conversation, settings)

    def ask(
        self, question: str, *, thinking: bool | None = None, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream the answer to `question`; the turn is recorded when it ends,
        also when it was stopped or cut off (the partial answer is kept)."""
        think = self.settings.thinking if thinking is None else thinking
        sampling = preset_for(self.engine.info.architecture, think).with_overrides(
            self.settings.sampling
        )
        for event in self.engine.stream(
            self.conversation.messages_for(question),
            thinking=think,
            sampling=sampling,
            max_tokens=self.settings.max_answer_tokens,
            cancel=cancel,
        ):
            if isinstance(event, Done):
                self.conversation.record(question, event.answer)
            yield event

    def close(self) -> None:
        self.engine.close()
