"""Fixtures of the Qt-free unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.chat.controller import ChatController
from desktop_app.core.chat.dispatch import QueueDispatcher
from desktop_app.core.history.store import Store
from tests.fixtures.fake_host import FakeHost
from tests.fixtures.strict_view import StrictView


@pytest.fixture
def make(folio_home: Path):
    made: list[ChatController] = []

    def build(
        host: FakeHost | None = None,
        *,
        refuse_unreadable: bool = False,
        view: StrictView | None = None,
    ) -> tuple[ChatController, StrictView, Callable]:
        view, dispatcher = view or StrictView(), QueueDispatcher()
        controller = ChatController(Store(), host or FakeHost(), view, dispatcher,
                                    refuse_unreadable=refuse_unreadable)  # fmt: skip
        made.append(controller)

        def pump_until(done: Callable[[], bool], timeout_s: float = 10.0) -> None:
            end = time.monotonic() + timeout_s
            while not done():
                assert time.monotonic() < end, "timed out"
                dispatcher.pump(0.01)

        controller.restore()
        pump_until(lambda: not controller.preparing)
        return controller, view, pump_until

    yield build
    for controller in made:
        controller.shutdown(2)
