"""What every part of the controller shares, handed to each part once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core.chat.view import ConversationView
from desktop_app.core.history.store import Store

#: Hands a function to the controller's owner thread (the dispatcher's `post`): engine and
#: reader events, and the view's answers to questions, are handled there, one at a time.
Post = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class ChatContext:
    store: Store
    view: ConversationView
    post: Post
    #: The conversation on screen: only its answer, cards and progress are drawn.
    open_conversation: Callable[[], int | None]
