"""A chat session answered by a remote engine server instead of the in-process model.

The plan, the conversation, retrieval and the turns are Folio's, as with the local
engine; the server only reads the messages and streams the answer. There is no token
history to append to: each question sends the conversation as messages, and the server's
own prompt cache (llama-server, vLLM and SGLang keep one) spares it re-reading the
documents for a follow-up.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from desktop_app.core.chat.asking import AskingSession, EngineFacts
from desktop_app.core.chat.context_plan import ContextPlan, plan_remote
from desktop_app.core.chat.conversation import Conversation, Message
from desktop_app.core.chat.retrieval import PassageIndex, until_cancelled
from desktop_app.core.documents.model import Document
from desktop_app.core.llm.events import Done, Event
from desktop_app.core.llm.remote import CHARS_PER_TOKEN, RemoteServer
from desktop_app.core.llm.sampling import SamplingParams
from desktop_app.settings import Settings

#: The context assumed for a server that does not report one, unless the settings say.
DEFAULT_REMOTE_CONTEXT = 8192
#: Margin on passage sizes estimated from the documents' own token ratio.
ESTIMATE_MARGIN = 1.1
#: The sampling settings a remote server is sent (the OpenAI fields, plus the ones
#: llama-server and vLLM also read); the server's defaults apply to the rest.
REMOTE_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "presence_penalty",
                   "repeat_penalty", "seed")  # fmt: skip


@dataclass
class RemoteSession(AskingSession):
    server: RemoteServer
    conversation: Conversation
    settings: Settings
    plan: ContextPlan
    index: PassageIndex | None = None

    @classmethod
    def open(
        cls,
        server: RemoteServer,
        settings: Settings,
        documents: Sequence[Document] = (),
        turns: Sequence[tuple[str, str]] = (),
        cancel: threading.Event | None = None,
    ) -> RemoteSession:
        """Ask the server what it serves, then plan the documents for its context; `cancel`
        stops counting and indexing them (`IndexCancelled`)."""
        server.connect()
        known = [n for n in (settings.n_ctx, server.n_ctx) if n]
        plan = plan_remote(
            documents,
            min(known) if known else DEFAULT_REMOTE_CONTEXT,
            system_prompt=settings.system_prompt,
            max_answer_tokens=settings.max_answer_tokens,
            count_tokens=until_cancelled(server.count_tokens, cancel),
            estimated=not server.counts_exactly,
        )
        index = None
        if plan.mode == "retrieval":
            # Passages are counted from the documents' measured ratio: one request to the
            # server per passage would take minutes for a long document.
            chars = sum(len(d.model_text()) for d in documents)
            ratio = sum(plan.document_tokens) / chars if chars else 1 / CHARS_PER_TOKEN
            estimate = until_cancelled(
                lambda t: math.ceil(len(t) * ratio * ESTIMATE_MARGIN), cancel
            )
            index = PassageIndex(documents, estimate)
        conversation = Conversation.planned(settings.system_prompt, documents, plan.mode == "whole")
        conversation.turns = list(turns)
        return cls(server, conversation, settings, plan, index)

    def facts(self) -> EngineFacts:
        # Whether the server's model thinks is not something servers report; the toggle
        # is sent as `enable_thinking`, which the templates of thinking models read.
        name = self.server.model.rsplit("/", 1)[-1]  # llama-cpp-python lists the file path
        return EngineFacts(name, f"remote ({self.server.host})", self.plan.n_ctx, 0, True)

    def _prompt_tokens(self, messages: list[Message], thinking: bool) -> int:
        per_message = 8  # the template's markup around each message
        text = "\n".join(m["content"] for m in messages)
        return self.server.count_tokens(text) + per_message * len(messages)

    def _context_tokens(self) -> int:
        return self.plan.n_ctx

    def _answer(
        self, message: str, thinking: bool, cancel: threading.Event | None, prefix: str = ""
    ) -> Iterator[Event]:
        messages = self.conversation.messages_for(message)
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
        for event in self.server.generate(
            messages,
            thinking=thinking,
            max_tokens=self.settings.max_answer_tokens,
            sampling=self._sampling(),
            cancel=cancel,
            continue_last=bool(prefix),
            assumed_context=self.plan.n_ctx,
        ):
            if isinstance(event, Done):
                if not event.stats.prompt_tokens:  # a server that sends no usage in streams
                    event = _with_prompt(event, self._prompt_tokens(messages, thinking))
                if event.answer or event.finish_reason != "cancelled":
                    self.conversation.record(message, prefix + event.answer)
            yield event

    def _sampling(self) -> dict[str, float]:
        """The user's sampling settings, checked as for the local engine."""
        checked = SamplingParams().with_overrides(self.settings.sampling)
        return {k: getattr(checked, k) for k in REMOTE_SAMPLING if k in self.settings.sampling}

    def close(self) -> None:
        """Nothing held: the host keeps the connection to the server for the next session."""


def _with_prompt(done: Done, prompt_tokens: int) -> Done:
    stats = dataclasses.replace(
        done.stats,
        prompt_tokens=prompt_tokens,
        prefill_tokens=max(prompt_tokens - done.stats.cached_tokens, 0),
    )
    return dataclasses.replace(done, stats=stats)
