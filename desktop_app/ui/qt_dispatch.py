"""The window's `Dispatcher`: engine events reach the UI thread as queued Qt calls.

A signal emitted on the engine thread and connected with a queued connection runs its slot
on the UI thread, through the event loop, so the controller behind the window is only ever
touched by the UI thread and the UI thread never waits for the engine.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal


class QtDispatcher(QObject):
    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Queued even when posted from the UI thread itself: a handler never runs inside
        # the call that caused it.
        self._posted.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    def drain(self) -> None:
        """Deliver what is queued now (closing: the last text of an answer cut short)."""
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)

    def _run(self, fn: Callable[[], None]) -> None:
        fn()
