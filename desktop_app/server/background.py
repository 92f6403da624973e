"""The API inside the running app: uvicorn on a thread of its own, the window's engine queue.

With the app open, a second process serving the API would load a second copy of the model
(gigabytes). Instead the server runs here and submits to the queue the window's answers use,
so API requests and the window take turns on one engine.
"""

from __future__ import annotations

import threading
import time

from desktop_app.errors import FolioError
from desktop_app.server.app import ServerState, create_app

#: How long start() waits for the port to be bound.
START_TIMEOUT_S = 5.0


class BackgroundServer:
    def __init__(self, state: ServerState, port: int, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.port = port
        config = uvicorn.Config(create_app(state), host=host, port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="folio-api", daemon=True)
        self._error: BaseException | None = None

    def start(self) -> None:
        """Bind and serve; a port that is taken is a `FolioError` saying so."""
        self._thread.start()
        end = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                self.stop()
                raise FolioError(
                    f"The local API could not listen on port {self.port} (is another program "
                    "using it?). Choose another port in Settings → Local API."
                )
            time.sleep(0.01)

    def stop(self, timeout_s: float = 3.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self._server.run()
        except BaseException as exc:  # uvicorn exits with SystemExit when it cannot bind
            self._error = exc
