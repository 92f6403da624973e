"""The local API inside the running app: started, moved or stopped as the settings say, and
its address in the status bar while it runs.

It answers with the window's own engine queue (`folio serve` has its own), so an API request
waits its turn behind the answer streaming in the window instead of loading a second model.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from desktop_app.core.chat.controller import ChatController
from desktop_app.errors import FolioError
from desktop_app.server.background import BackgroundServer
from desktop_app.settings import Settings


class LocalApi:
    def __init__(self, controller: ChatController, show_error: Callable[[str], None]) -> None:
        self._controller = controller
        self._show_error = show_error
        self.server: BackgroundServer | None = None
        #: "API: http://127.0.0.1:PORT/v1" in the status bar while it runs (selectable).
        self.label = QLabel("")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.hide()

    def apply(self, settings: Settings) -> None:
        """Start, move or stop the API as `settings` say."""
        running = self.server
        if running is not None and (not settings.api_server or running.port != settings.api_port):
            self.stop()
        if settings.api_server and self.server is None:
            # Imported only when asked for: the web stack costs start-up time otherwise.
            from desktop_app.server.app import ServerState, model_ids

            host = self._controller.host
            state = ServerState(host.api_engine, self._controller.engine,
                                lambda: model_ids(host.model_path, None))  # fmt: skip
            server = BackgroundServer(state, settings.api_port)
            try:
                server.start()
            except FolioError as exc:
                self._show_error(str(exc))
                return
            self.server = server
        self._show()

    def stop(self) -> None:
        """No new requests (Quit, or turned off); the one in flight ends with the engine."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        self._show()

    def _show(self) -> None:
        server = self.server
        self.label.setText(f"API: http://127.0.0.1:{server.port}/v1" if server else "")
        self.label.setVisible(server is not None)
