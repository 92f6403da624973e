"""A chat session: the plan for the documents, the model loaded with a context
sized by it, and the conversation. Shared by the CLI and the Qt worker so that
both size contexts, retrieve passages and record turns the same way."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app import paths
from desktop_app.core import hardware as hw_mod
from desktop_app.core.chat import transcripts
from desktop_app.core.chat.asking import AskingSession, EngineFacts
from desktop_app.core.chat.context_plan import ContextPlan, plan_context
from desktop_app.core.chat.conversation import Conversation
from desktop_app.core.chat.retrieval import PassageIndex, until_cancelled
from desktop_app.core.documents.model import Document
from desktop_app.core.hardware import Hardware
from desktop_app.core.llm.chat_template import SENTINEL, Message
from desktop_app.core.llm.checkpoints import common_prefix
from desktop_app.core.llm.engine import Done, Engine, EngineConfig, Event
from desktop_app.core.llm.events import PrefillProgress
from desktop_app.core.llm.reasoning import prompt_opens_reasoning
from desktop_app.core.llm.sampling import preset_for
from desktop_app.core.llm.saved_states import SavedStates
from desktop_app.core.llm.tokenizer import VocabOnly
from desktop_app.core.models.gguf_header import read_model_info
from desktop_app.core.models.locator import model_label
from desktop_app.settings import Settings


@dataclass
class ChatSession(AskingSession):
    engine: Engine
    conversation: Conversation
    settings: Settings
    plan: ContextPlan
    index: PassageIndex | None = None
    #: The conversation's tokens exactly as the context read and generated them.
    _history: list[int] = field(default_factory=list)
    #: Where each recorded turn's tokens start in `_history` (for regenerate/edit).
    _turn_starts: list[int] = field(default_factory=list)
    _doc_end: int | None = None

    @classmethod
    def open(
        cls,
        model_path: Path,
        settings: Settings,
        documents: Sequence[Document] = (),
        *,
        n_ctx: int | None = None,
        hardware: Hardware | None = None,
        engine: Engine | None = None,
        turns: Sequence[tuple[str, str]] = (),
        cancel: threading.Event | None = None,
    ) -> ChatSession:
        """Plan the documents and get an engine for them.

        `engine`: one already loaded (the app switching conversations); it is
        reused when its settings match and its context is large enough, else
        closed and replaced. `turns`: earlier (question, answer) pairs of a
        saved conversation. `cancel` stops counting and indexing them (`IndexCancelled`).
        """
        hw = hardware or hw_mod.detect()
        same_model = engine is not None and engine.info.path == model_path
        # A loaded engine already has the metadata and the tokenizer; otherwise
        # read the header and load the vocabulary alone (no weights) to count.
        info = engine.info if same_model else read_model_info(model_path)
        with ExitStack() as stack:
            if same_model:
                count = until_cancelled(engine.count_tokens, cancel)
            else:
                count = until_cancelled(stack.enter_context(VocabOnly(model_path)).count, cancel)
            plan = plan_context(
                documents, info, hw,
                system_prompt=settings.system_prompt,
                max_answer_tokens=settings.max_answer_tokens,
                cache_type=settings.kv_cache_type,
                count_tokens=count,
                n_ctx_override=n_ctx or settings.n_ctx,
            )  # fmt: skip
            index = PassageIndex(documents, count) if plan.mode == "retrieval" else None
        conversation = Conversation.planned(settings.system_prompt, documents, plan.mode == "whole")
        config = EngineConfig(
            model_path=model_path,
            n_ctx=plan.n_ctx,
            gpu_layers=settings.gpu_layers,
            n_threads=settings.n_threads,
            flash_attn=settings.flash_attn,
            kv_cache_type=settings.kv_cache_type,
            checkpoint_ram_bytes=settings.checkpoint_ram_mb * 1024**2,
        )
        if engine is not None and not _can_reuse(engine, config):
            engine.close()
            engine = None
        engine = engine or Engine.load(config, hardware=hw)
        # The context loaded can differ from the planned one (a reused engine holds more, a
        # load that fell back holds less): the plan says what the status bar's meter fills.
        plan = dataclasses.replace(plan, n_ctx=engine.n_ctx)
        conversation.turns = list(turns)
        engine.saved_states = None
        if settings.state_cache_gb > 0:  # 0 turns saved document states off
            engine.saved_states = SavedStates(
                paths.cache_dir() / "prompt-states", int(settings.state_cache_gb * 1024**3)
            )
        session = cls(engine, conversation, settings, plan, index)
        session._resume()
        return session

    def _resume(self) -> None:
        """A conversation this engine read before (reopened: switching back, a setting
        changed): go on from its exact tokens, so regenerate and follow-ups build the prompt
        the context read, not a re-rendering of it (transcripts.py)."""
        found = transcripts.of(self.engine).find(self._transcript_key())
        if found is not None:
            self._history = found.tokens.tolist()
            self._turn_starts = list(found.turn_starts)
            self._doc_end = found.doc_end

    def _transcript_key(self) -> str:
        return transcripts.key(self.conversation.system_message()["content"],
                               self.conversation.turns)  # fmt: skip

    def _prompt_tokens(self, messages: list[Message], thinking: bool) -> int:
        return len(self.engine.tokenize(self.engine.render(messages, thinking=thinking)))

    def _context_tokens(self) -> int:
        return self.engine.n_ctx

    def _forget_turns(self, *, everything: bool) -> None:
        if everything:
            self._history.clear()
            self._turn_starts.clear()
        elif self._turn_starts:
            del self._history[self._turn_starts.pop() :]

    def _prompt(self, message: str, thinking: bool) -> tuple[list[int], str, int | None]:
        """Tokens to send, the text whose end decides reasoning, and the document block's end.

        Append-only: after the first turn, the prompt is the conversation's
        exact token history plus only the template text that follows it.
        """
        engine = self.engine
        if self._history and self.conversation.turns:
            tail = engine.template.continuation(
                self.conversation.history(), message, thinking=thinking
            )
            if tail is not None:
                return self._history + engine.tokenize_fragment(tail), tail, self._doc_end
        text = engine.render(self.conversation.messages_for(message), thinking=thinking)
        tokens = engine.tokenize(text)
        self._doc_end = None
        if self.plan.document_tokens:
            self._doc_end = common_prefix(tokens, self._asking(SENTINEL, thinking)) or None
        self._history.clear()
        self._turn_starts.clear()
        return tokens, text, self._doc_end

    def _asking(self, question: str, thinking: bool) -> list[int]:
        """Tokens of the system message + documents followed by `question`.

        The document block ends where prompts for different questions part, so
        comparing with a question no one asks (a sentinel) finds it exactly.
        """
        messages = [self.conversation.system_message(), {"role": "user", "content": question}]
        return self.engine.tokenize(self.engine.render(messages, thinking=thinking))

    def warm_up(self, *, cancel: threading.Event | None = None) -> Iterator[PrefillProgress]:
        """Read the documents now, while the user is still typing the question.

        The state after the document block is checkpointed and saved to disk,
        so the first question reads only itself. Nothing to do in retrieval
        mode (each question brings its own excerpts) or without documents.
        """
        if self.plan.mode != "whole" or not self.plan.document_tokens:
            return
        thinking = self.settings.thinking
        block = self._asking(SENTINEL, thinking)
        end = common_prefix(block, self._asking(SENTINEL[::-1], thinking))
        if end:
            yield from self.engine.prefill(block[:end], cancel=cancel, persist=True)

    def _answer(
        self, message: str, thinking: bool, cancel: threading.Event | None, prefix: str = ""
    ) -> Iterator[Event]:
        """Stream the answer to `message`; `prefix`: the answer so far, to go on from."""
        sampling = preset_for(self.engine.info.architecture, thinking).with_overrides(
            self.settings.sampling
        )
        tokens, text, doc_end = self._prompt(message, thinking)
        if prefix:
            tokens = tokens + self.engine.tokenize_fragment(prefix)
            text += prefix
        start = len(self._history)
        positions = [p for p in (doc_end, len(tokens) - 1) if p]
        for event in self.engine.generate(
            tokens,
            opens_reasoning=prompt_opens_reasoning(text),
            sampling=sampling,
            max_tokens=self.settings.max_answer_tokens,
            cancel=cancel,
            checkpoints=positions,
            persist_prefix=doc_end,
        ):
            if isinstance(event, Done) and (event.tokens or event.finish_reason != "cancelled"):
                # A question stopped before any answer leaves no turn behind.
                self.conversation.record(message, prefix + event.answer)
                self._turn_starts.append(start)
                self._history = tokens + list(event.tokens)
                transcripts.of(self.engine).remember(
                    self._transcript_key(), self._history, self._turn_starts, self._doc_end
                )
            yield event

    def facts(self) -> EngineFacts:
        engine = self.engine
        return EngineFacts(model_label(engine.info.path), str(engine.placement), engine.n_ctx,
                           engine.n_threads, engine.template.supports_thinking)  # fmt: skip

    def close(self) -> None:
        self.engine.close()


def _can_reuse(engine: Engine, config: EngineConfig) -> bool:
    """Same model and settings, and a context at least as large as needed."""
    same = dataclasses.replace(engine.config, n_ctx=config.n_ctx) == config
    return same and engine.n_ctx >= config.n_ctx
