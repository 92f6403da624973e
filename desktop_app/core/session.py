"""A chat session: the plan for the documents, the model loaded with a context
sized by it, and the conversation. Shared by the CLI and the Qt worker so that
both size contexts, retrieve passages and record turns the same way."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core import hardware as hw_mod
from desktop_app.core.context_plan import ContextPlan, plan_context
from desktop_app.core.conversation import Attachment, Conversation, with_excerpts
from desktop_app.core.documents.model import Document
from desktop_app.core.engine import ContextFull, Done, Engine, EngineConfig, Event
from desktop_app.core.hardware import Hardware
from desktop_app.core.model_files import read_model_info
from desktop_app.core.retrieval import PassageIndex
from desktop_app.core.sampling import preset_for
from desktop_app.core.tokenizer import VocabOnly
from desktop_app.settings import Settings

#: Below this many tokens of room for excerpts, a retrieval question cannot be
#: answered usefully: the conversation has filled the context.
MIN_EXCERPT_ROOM = 256


@dataclass
class ChatSession:
    engine: Engine
    conversation: Conversation
    settings: Settings
    plan: ContextPlan
    index: PassageIndex | None = None

    @classmethod
    def open(
        cls,
        model_path: Path,
        settings: Settings,
        documents: Sequence[Document] = (),
        *,
        n_ctx: int | None = None,
        hardware: Hardware | None = None,
    ) -> ChatSession:
        info = read_model_info(model_path)
        hw = hardware or hw_mod.detect()
        with VocabOnly(model_path) as vocab:
            plan = plan_context(
                documents, info, hw,
                system_prompt=settings.system_prompt,
                max_answer_tokens=settings.max_answer_tokens,
                cache_type=settings.kv_cache_type,
                count_tokens=vocab.count,
                n_ctx_override=n_ctx or settings.n_ctx,
            )  # fmt: skip
            index = PassageIndex(documents, vocab.count) if plan.mode == "retrieval" else None
        if plan.mode == "whole":
            conversation = Conversation(
                settings.system_prompt, [Attachment(d.path.name, d.model_text()) for d in documents]
            )
        else:
            conversation = Conversation(
                settings.system_prompt, excerpted=[d.path.name for d in documents]
            )
        config = EngineConfig(
            model_path=model_path,
            n_ctx=plan.n_ctx,
            gpu_layers=settings.gpu_layers,
            n_threads=settings.n_threads,
            flash_attn=settings.flash_attn,
            kv_cache_type=settings.kv_cache_type,
        )
        engine = Engine.load(config, hardware=hw)
        return cls(engine, conversation, settings, plan, index)

    def user_message(self, question: str, thinking: bool) -> str:
        """The user message to send: the question, plus excerpts in retrieval mode.

        The excerpt budget shrinks as the conversation grows, so that the
        answer always has its room; when nothing is left, say so.
        """
        if self.index is None:
            return question
        messages = self.conversation.messages_for(with_excerpts(question, ""))
        used = len(self.engine.tokenize(self.engine.render(messages, thinking=thinking)))
        room = self.engine.n_ctx - used - self.settings.max_answer_tokens
        budget = min(self.plan.passage_budget, room)
        if budget < MIN_EXCERPT_ROOM:
            raise ContextFull(
                "This conversation has filled the model's context; start a new chat to ask more."
            )
        passages = self.index.search(question, budget)
        return with_excerpts(question, "\n\n".join(p.render() for p in passages))

    def ask(
        self, question: str, *, thinking: bool | None = None, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream the answer to `question`; the turn is recorded when it ends,
        also when it was stopped or cut off (the partial answer is kept)."""
        think = self.settings.thinking if thinking is None else thinking
        sampling = preset_for(self.engine.info.architecture, think).with_overrides(
            self.settings.sampling
        )
        message = self.user_message(question, think)
        for event in self.engine.stream(
            self.conversation.messages_for(message),
            thinking=think,
            sampling=sampling,
            max_tokens=self.settings.max_answer_tokens,
            cancel=cancel,
        ):
            if isinstance(event, Done):
                self.conversation.record(message, event.answer)
            yield event

    def close(self) -> None:
        self.engine.close()
