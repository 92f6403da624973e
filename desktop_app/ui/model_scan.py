"""The disk search for models, off the UI thread, for the model picker and the Models page.

`discover` reads the header of every candidate GGUF (a folder of LM Studio models, a large
Hugging Face cache), which may take a moment on a slow disk; the window must not freeze
while the user opens a menu, so it runs on a short-lived thread and answers with a signal.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal

from desktop_app.core.models.discovery import discover


class _Relay(QObject):
    """Carries the answer to the UI thread. Parentless and held by the thread, so a scan
    whose page was closed meanwhile emits into nothing instead of a deleted object."""

    done = Signal(object, str)  # (list[Discovered] or None, message)


class ModelScan(QObject):
    """One search at a time; `found` and `failed` arrive on the thread that owns this."""

    found = Signal(object)  # list[Discovered]
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay: _Relay | None = None  # while a search runs

    def start(self) -> None:
        """Search now, unless a search is already running (its answer serves both)."""
        if self._relay is not None:
            return
        relay = self._relay = _Relay()
        relay.done.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        done = relay.done

        def work() -> None:
            try:
                done.emit(discover(), "")
            except Exception as exc:  # discover skips errors; this is a backstop
                done.emit(None, f"Could not search for models: {exc}")

        threading.Thread(target=work, name="model discovery", daemon=True).start()

    def _finish(self, found: object, message: str) -> None:
        self._relay = None
        if found is None:
            self.failed.emit(message)
        else:
            self.found.emit(found)
