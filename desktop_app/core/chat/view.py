"""What the controller tells a view: the one contract between the lifecycle and its faces.

The window implements it with widgets, the CLI with stdout/stderr. The controller calls
these on its owner thread only, and only for the conversation that is open (an answer
streaming in another conversation is saved, not shown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from desktop_app.core.chat.cards import DocumentCard
from desktop_app.core.chat.session_host import Opened
from desktop_app.core.llm.events import PrefillProgress


class ShownMessage(NamedTuple):
    role: str
    content: str
    reasoning: str
    stats: dict | None
    #: How the answer ended; "interrupted" for one that never did (the app was killed).
    finish_reason: str | None


@dataclass(frozen=True)
class PasswordQuestion:
    """A question the view answers later, as a command: the window opens a dialog and
    returns to its event loop (a modal dialog inside a controller's handler would let other
    queued handlers run half-way through this one)."""

    path: str
    message: str
    #: The view's reply: the password, or None if the user declined. Handled later, on the
    #: controller's thread, as its own event.
    answer: Callable[[str | None], None]


class ConversationView(Protocol):
    def show_messages(self, messages: Sequence[ShownMessage]) -> None:
        """Replace the chat with these messages (an answer in flight follows with
        `begin_answer` and its text so far)."""

    def add_user_message(self, text: str) -> None:
        """The question just asked, shown before its answer begins."""

    def begin_answer(self) -> None: ...

    def append_answer(self, answer: str, reasoning: str) -> None:
        """Text added to the answer streaming in the open conversation."""

    def mark_citations(self, found: dict) -> None:
        """The streaming answer's citations checked so far (`stats["citations"]` form)."""

    def end_answer(self, stats: dict | None, finish_reason: str) -> None: ...

    def answer_stats(self, stats: dict, used_tokens: int) -> None:
        """The speed and context use of the answer that just ended."""

    def set_busy(self, busy: bool) -> None:
        """Whether the open conversation has an answer in flight (Stop instead of Send)."""

    def show_draft(self, text: str) -> None: ...

    def show_progress(self, progress: PrefillProgress, label: str, unit: str) -> None: ...

    def clear_progress(self) -> None: ...

    def show_cards(self, cards: Sequence[DocumentCard]) -> None: ...

    def update_card(self, card: DocumentCard) -> None:
        """Add the card, or replace the one with its key."""

    def remove_card(self, key: str) -> None: ...

    def session_opened(self, opened: Opened) -> None:
        """The open conversation's session is ready: model, placement, context."""

    def model_status(self, text: str) -> None:
        """A line about the model ("Loading…", "Model not ready: …")."""

    def conversations_changed(self) -> None:
        """A conversation was created, renamed, retitled or deleted."""

    def show_error(self, message: str) -> None:
        """Tell the user; the view returns at once (no modal loop inside the handler)."""

    def request_password(self, question: PasswordQuestion) -> None:
        """Ask for an encrypted document's password; reply with `question.answer`."""
