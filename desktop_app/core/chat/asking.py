"""What every chat session does with questions, whichever engine answers them.

Asking, answering again, editing the last question and continuing a cut-off answer are
the same for the in-process engine (`ChatSession`) and a remote engine server
(`RemoteSession`): the conversation records the turns, retrieval mode adds excerpts that
fit what is left of the context. Only how a prompt is counted and answered differs, and
that is what a subclass provides.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from desktop_app.core.chat.context_plan import ContextPlan
from desktop_app.core.chat.conversation import Conversation, Message, with_excerpts
from desktop_app.core.chat.retrieval import PassageIndex
from desktop_app.core.llm.engine import ContextFull
from desktop_app.core.llm.events import Event
from desktop_app.errors import FolioError
from desktop_app.settings import Settings

#: Below this many tokens of room for excerpts, a retrieval question cannot be
#: answered usefully: the conversation has filled the context.
MIN_EXCERPT_ROOM = 256


@dataclass(frozen=True)
class EngineFacts:
    """What the views show about whatever answers: the header line and the toggles."""

    model: str
    placement: str
    n_ctx: int
    #: Decode threads of the in-process engine; 0 for a remote engine server.
    n_threads: int
    thinking_supported: bool


class AskingSession:
    """The question side of a session; subclasses are dataclasses holding these fields."""

    conversation: Conversation
    settings: Settings
    plan: ContextPlan
    index: PassageIndex | None

    def user_message(self, question: str, thinking: bool) -> str:
        """The user message to send: the question, plus excerpts in retrieval mode.

        The excerpt budget shrinks as the conversation grows, so that the
        answer always has its room; when nothing is left, say so.
        """
        if self.index is None:
            return question
        messages = self.conversation.messages_for(with_excerpts(question, ""))
        used = self._prompt_tokens(messages, thinking)
        room = self._context_tokens() - used - self.settings.max_answer_tokens
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
        yield from self._answer(self.user_message(question, think), think, cancel)

    def regenerate(
        self, *, thinking: bool | None = None, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Answer the last question again (same excerpts)."""
        message = self._drop_last_turn()
        think = self.settings.thinking if thinking is None else thinking
        yield from self._answer(message, think, cancel)

    def edit_last(
        self, question: str, *, thinking: bool | None = None, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Replace the last question and answer it; earlier turns are not re-read."""
        self._drop_last_turn()
        yield from self.ask(question, thinking=thinking, cancel=cancel)

    def continue_last(self, *, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Go on with the last answer from where it stopped (stopped, cut off, or saved by
        a run that was killed): the question is asked again with the answer so far left
        open after it, and the turn becomes the whole answer.

        The continuation is asked with thinking off: the model goes on with the answer,
        not with new thoughts.
        """
        if not self.conversation.turns:
            raise FolioError("There is no answer to continue yet.")
        _, partial = self.conversation.turns[-1]
        message = self._drop_last_turn()
        yield from self._answer(message, False, cancel, prefix=partial)

    def new_conversation(self) -> None:
        """Forget the turns; the documents stay (and stay read)."""
        self.conversation.turns.clear()
        self._forget_turns(everything=True)

    def _drop_last_turn(self) -> str:
        if not self.conversation.turns:
            raise FolioError("There is no question to answer again yet.")
        message, _ = self.conversation.turns.pop()
        self._forget_turns(everything=False)
        return message

    def _forget_turns(self, *, everything: bool) -> None:
        """The last turn (or all) was dropped: forget what the engine side kept of it."""

    def _prompt_tokens(self, messages: list[Message], thinking: bool) -> int:
        raise NotImplementedError

    def _context_tokens(self) -> int:
        raise NotImplementedError

    def _answer(
        self, message: str, thinking: bool, cancel: threading.Event | None, prefix: str = ""
    ) -> Iterator[Event]:
        """Stream the answer to `message`; `prefix`: the answer so far, to go on from."""
        raise NotImplementedError

    def warm_up(self, *, cancel: threading.Event | None = None) -> Iterator[object]:
        """Read the documents before the first question, where the engine can."""
        return iter(())

    def facts(self) -> EngineFacts:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
