"""The window's model actions: the Models dialog, switching models, downloads in the status bar.

A mixin of `MainWindow` (it uses the window's host, worker and status bar), kept apart so
the window module stays about layout and the answer flow. Downloads belong to the window's
`DownloadManager`, so they keep going when the dialog closes and show in the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QStatusBar, QWidget

from desktop_app import settings as settings_mod
from desktop_app.ui.dialogs.models_page import format_progress
from desktop_app.ui.download_manager import DownloadManager
from desktop_app.ui.engine_worker import EngineWorker
from desktop_app.ui.session_host import SessionHost

#: How long the "downloaded" notice stays in the status bar.
NOTICE_MS = 15_000


class ModelActions:
    # Provided by MainWindow:
    host: SessionHost
    worker: EngineWorker
    downloads: DownloadManager
    model_label: QLabel
    download_label: QLabel
    statusBar: Callable[[], QStatusBar]
    _prepare: Callable[[], None]

    def _connect_downloads(self) -> None:
        self.downloads.changed.connect(self._show_downloads)
        self.downloads.downloaded.connect(self._on_model_downloaded)
        self.download_label.linkActivated.connect(lambda _link: self.open_models())
        self._show_downloads()

    def open_models(self) -> QDialog:
        """The models dialog (first run and Ctrl+M): pick, find or download a model."""
        from desktop_app.ui.dialogs.models_dialog import ModelsDialog

        parent = self if isinstance(self, QWidget) else None
        dialog = ModelsDialog(self.downloads, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # reopening builds a new one
        dialog.model_chosen.connect(self.use_model)
        dialog.show()
        return dialog

    def use_model(self, path: str) -> None:
        """Switch models at runtime: the old one is unloaded, the new one loads meanwhile."""
        new = self.host.settings.replace(model_path=path)
        settings_mod.save(new)
        self.model_label.setText(f"Loading {Path(path).name}…")
        self.worker.call(lambda c: self.host.reconfigure(Path(path), new))
        self._prepare()

    def _on_model_downloaded(self, name: str, path: str) -> None:
        """A finished download replaces the demo model; a chosen model stays until asked.

        The saved settings, not the host's (updated only when the engine thread gets to the
        switch), so two downloads finishing together switch once.
        """
        if settings_mod.load().model_path is None:
            self.use_model(path)
            self.statusBar().showMessage(f"{name} downloaded; Folio now uses it.", NOTICE_MS)
        else:
            self.statusBar().showMessage(
                f"{name} downloaded. Choose it in Models (Ctrl+M) to use it.", NOTICE_MS
            )

    def _show_downloads(self, _name: str = "") -> None:
        """ "Downloading Qwen3.5-9B: 41 % · 12 MB/s · 5 min left" while any download runs."""
        running = [j for j in self.downloads.jobs() if j.busy]
        parts = []
        for job in running:
            p = job.progress
            done = f"{p.done / p.total:.0%} · {format_progress(p)}" if p and p.total else "…"
            parts.append(f"{job.entry.name}: {done}")
        self.download_label.setText(
            f'<a href="models">Downloading</a> {"; ".join(parts)}' if parts else ""
        )
        self.download_label.setVisible(bool(parts))
