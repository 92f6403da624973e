"""Documents Folio is asked to open from outside: its command line, a second start, the OS.

All three end here, in `DocumentRouter`, so they behave the same: paths are made absolute,
held until the window exists, opened in a new chat, and (when `FOLIO_OPENED_LOG` names a file)
written there once the window has taken them. CI's installer test reads that file to check
that `xdg-open some.pdf` reached Folio and that a second `folio other.pdf` reached the first.

macOS does not put a double-clicked document in argv: LaunchServices starts the app (or finds
it running) and sends an "open documents" Apple Event, which Qt turns into a `QFileOpenEvent`
on the application object, one per document. The router filters those; documents opened
together arrive in one burst and go to one chat.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QFileOpenEvent

from desktop_app.ui.single_instance import HandOff

if TYPE_CHECKING:  # the window's imports are heavy; a second start never needs them
    from desktop_app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

#: Test hook: every document the window takes is appended to this file, one path a line.
OPENED_LOG_ENV = "FOLIO_OPENED_LOG"


class DocumentRouter(QObject):
    """Opens documents from outside in the window, or queues them until there is one."""

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__()  # not the app's child: it lives as long as the start that made it
        self._window: MainWindow | None = None
        self._queued: list[str] = []
        self._front = False  # bring the window forward when the queue is opened
        self._flush = QTimer(self, singleShot=True, interval=0, timeout=self._open_queued)
        app.installEventFilter(self)

    def attach(self, window: MainWindow, files: Sequence[str]) -> None:
        """The window exists: open the start's own `files`, then whatever arrived meanwhile."""
        self._window = window
        self._open(files)
        self._open_queued()

    def hand_over(self, message: HandOff) -> None:
        """A second start's documents (maybe none): open them and bring the window forward."""
        if message.activation_token:
            # Qt's Wayland plugin activates with this token once, then clears it.
            os.environ["XDG_ACTIVATION_TOKEN"] = message.activation_token
        self._queue(message.files, front=True)
        self._open_queued()  # at once: the sender waits for the answer

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        # Installed on the application, this sees every event of every object: stay cheap.
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        path = event.file() or event.url().toLocalFile()
        if path:  # a URL that is not a local file is not a document
            self._queue([path], front=True)
            self._flush.start()  # after the rest of this burst
        return True

    def _queue(self, files: Sequence[str], *, front: bool) -> None:
        self._queued += files
        self._front = self._front or front

    def _open_queued(self) -> None:
        if self._window is None:
            return
        files, front = self._queued, self._front
        self._queued, self._front = [], False
        self._open(files)
        if front:
            bring_to_front(self._window)

    def _open(self, files: Sequence[str]) -> None:
        if not files:
            return
        assert self._window is not None
        absolute = [os.path.abspath(f) for f in files]
        self._window.open_files(absolute)
        _record_opened(absolute)


def bring_to_front(window: MainWindow) -> None:
    """Show the window over the others, un-minimized but keeping maximized or full screen.

    Whether it also takes the focus is the window system's call (focus-stealing prevention);
    the activation token and `AllowSetForegroundWindow` of the second start are what let it.
    """
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def _record_opened(files: Sequence[str]) -> None:
    target = os.environ.get(OPENED_LOG_ENV)
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write("".join(f"{f}\n" for f in files))
    except OSError as exc:
        log.warning("cannot write %s=%s: %s", OPENED_LOG_ENV, target, exc)
