"""Unexpected errors in the window reach the log and a dialog, never only a dead stderr.

A windowed app has no terminal: PySide prints an exception raised in a slot to stderr
(the null device in the bundle) and carries on, so a bug would vanish without a trace.
`install()` routes such errors, from the UI thread and from helper threads alike, to
folio.log with the traceback and to one short dialog on the UI thread.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from desktop_app import paths
from desktop_app.errors import FolioError
from desktop_app.ui.message_box import Icon, show_message

log = logging.getLogger(__name__)


class _Relay(QObject):
    show = Signal(str)


def message_for(exc: BaseException) -> str:
    """What the dialog says: what happened, that nothing was lost, where the details are.
    A `FolioError` that reached here (say, the history found damaged mid-session) was
    written for the user: it is shown as it is."""
    if isinstance(exc, FolioError):
        return str(exc)
    what = str(exc) or type(exc).__name__
    return (
        f"Something went wrong inside Folio ({what}). Your chats are saved. The details are in "
        f"{paths.log_dir() / 'folio.log'}; please attach that file to a bug report."
    )


def install(app: QApplication) -> None:
    relay = _Relay(app)  # lives on the UI thread: emitting from another thread queues
    relay.show.connect(lambda text: show_message(None, text, Icon.Critical))

    def report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
        relay.show.emit(message_for(exc))

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value, args.exc_traceback)
