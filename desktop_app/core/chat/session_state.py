"""The open conversation's session as one explicit state, changed only by named transitions.

The controller used to track the session in four flags (an open request, a pre-read request,
"reopen when done", "closing"); every handler had to know which combinations could occur,
and a combination nobody thought of left a card on "opening…" for a whole answer. Here the
session is in exactly one `SessionState`, each transition says where it may start from, and
an event that does not fit the state (the result of an open that was superseded, a pre-read
of a conversation left meanwhile) is refused by the transition instead of being half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from desktop_app.core.chat.session_host import Opened


class SessionState(Enum):
    #: Nothing asked of the engine for the open conversation yet.
    IDLE = "idle"
    #: A (re)open waits for the conversation's answer in flight or its files being read:
    #: the session must be built from finished turns and read documents.
    WAITING = "waiting"
    #: The engine opens the session (loads the model if needed, sizes the context).
    OPENING = "opening"
    #: Open; its documents are read into the model ahead of the first question.
    WARMING = "warming"
    READY = "ready"
    #: The open failed (no model, not enough memory…); the next prepare tries again.
    FAILED = "failed"
    #: Quit: nothing new starts, late results are dropped.
    CLOSING = "closing"


class IllegalTransition(RuntimeError):
    """A transition from a state it does not start from: a bug in the controller."""


_ANY_BUT_CLOSING = frozenset(SessionState) - {SessionState.CLOSING}
#: transition -> the states it may start from.
_FROM: dict[str, frozenset[SessionState]] = {
    "wait": _ANY_BUT_CLOSING,
    "open": _ANY_BUT_CLOSING,
    "opened": frozenset({SessionState.OPENING}),
    "open_failed": frozenset({SessionState.OPENING}),
    "warm": frozenset({SessionState.READY}),
    "warmed": frozenset({SessionState.WARMING}),
    "cancelled": frozenset({SessionState.OPENING, SessionState.WARMING}),
    "close": frozenset(SessionState),
}


@dataclass
class SessionLifecycle:
    """The state, the engine request that drives it (while OPENING or WARMING), and the
    last `Opened` of each conversation (its cards show sizes and fit again on coming back,
    even while its reopen waits for an answer)."""

    state: SessionState = SessionState.IDLE
    request: int | None = None
    opened_for: dict[int, Opened] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        """Whether the engine is opening the session or pre-reading its documents."""
        return self.state in (SessionState.OPENING, SessionState.WARMING)

    @property
    def closing(self) -> bool:
        return self.state is SessionState.CLOSING

    def owns(self, request_id: int) -> bool:
        """Whether an event of `request_id` is the current open or pre-read's."""
        return self.busy and request_id == self.request

    # ---------------------------------------------------------------- transitions
    def wait(self) -> None:
        self._to("wait", SessionState.WAITING)

    def open(self, request_id: int) -> None:
        self._to("open", SessionState.OPENING, request_id)

    def opened(self, conversation_id: int, opened: Opened) -> None:
        self._to("opened", SessionState.READY)
        self.opened_for[conversation_id] = opened

    def open_failed(self) -> None:
        self._to("open_failed", SessionState.FAILED)

    def warm(self, request_id: int) -> None:
        self._to("warm", SessionState.WARMING, request_id)

    def warmed(self) -> None:
        """The pre-read ended: read, cancelled (Cancel, a switch) or failed."""
        self._to("warmed", SessionState.READY)

    def cancelled(self) -> None:
        """The open or pre-read was cancelled before it ended: an open left no session."""
        opening = self.state is SessionState.OPENING
        self._to("cancelled", SessionState.IDLE if opening else SessionState.READY)

    def close(self) -> None:
        self._to("close", SessionState.CLOSING)

    def _to(self, transition: str, state: SessionState, request_id: int | None = None) -> None:
        if self.state not in _FROM[transition]:
            raise IllegalTransition(f"{transition}: not from {self.state.value}")
        self.state, self.request = state, request_id
