"""First-run setup and the Models page: which model to download, and which are already here.

Both slow jobs run on plain threads of their own, never on the UI thread (the window would
freeze) nor on the engine thread (chat must keep working during a 5 GB download):
discovery reads every candidate's header, and downloads stream for minutes. Threads report
through a `_Relay` created on the UI thread; a Qt signal emitted from another thread to a
receiver living on the UI thread is queued, so every widget update happens on the UI thread.
The relay has no parent, so the worker's reference keeps it alive even if the dialog is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app import paths
from desktop_app.core import hardware as hardware_probe
from desktop_app.core import models_catalog
from desktop_app.core.downloads import (
    DownloadCancelled,
    DownloadPaused,
    DownloadProgress,
    download,
    partial_path,
)
from desktop_app.core.hardware import Hardware
from desktop_app.core.model_discovery import Discovered, discover
from desktop_app.core.model_locator import demo_model_path
from desktop_app.core.models_catalog import CatalogEntry, Fit

_GiB = 1 << 30
_PROGRESS_STEPS = 1000  # QProgressBar holds an int; bytes of a 5 GB file overflow it


class _Relay(QObject):
    """Carries a worker thread's results to the UI thread (queued, since it lives there)."""

    progress = Signal(object)  # DownloadProgress
    finished = Signal(object)  # Path of the finished file, or the list of Discovered
    stopped = Signal(str)  # "paused" or "cancelled"
    failed = Signal(str)  # the error message, already worded for the user


def _size(n: int) -> str:
    return f"{n / _GiB:.1f} GiB" if n >= _GiB else f"{n / 1e6:.0f} MB"


def format_progress(p: DownloadProgress) -> str:
    """Like "1.2 / 5.3 GiB · 12.5 MB/s · 5 min left"; speed and time only once known."""
    unit, scale = ("GiB", _GiB) if p.total >= _GiB else ("MB", 1e6)
    parts = [f"{p.done / scale:.1f} / {p.total / scale:.1f} {unit}"]
    if p.bytes_per_s is not None:
        parts.append(f"{p.bytes_per_s / 1e6:.1f} MB/s")
    if p.eta_s is not None:
        minutes = round(p.eta_s / 60)
        if minutes < 1:
            parts.append("less than a minute left")
        elif minutes < 60:
            parts.append(f"{minutes} min left")
        else:
            parts.append(f"{minutes // 60} h {minutes % 60} min left")
    return " · ".join(parts)


class CatalogRow(QWidget):
    """One downloadable model: its verdict for this machine and, once started, its download."""

    downloaded = Signal(str)

    def __init__(self, fit: Fit, recommended: bool, endpoint: str | None) -> None:
        super().__init__()
        self.entry: CatalogEntry = fit.entry
        self._endpoint = endpoint
        self._pause = threading.Event()
        self._cancel = threading.Event()
        self._running = False

        title = QLabel(f"<b>{self.entry.name}</b> · {_size(self.entry.size_bytes)}")
        self.recommended = QLabel("Recommended")
        self.recommended.setStyleSheet("color: palette(highlight); font-weight: bold;")
        self.recommended.setVisible(recommended)
        self.reason = QLabel(fit.reason)
        self.reason.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, _PROGRESS_STEPS)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.download_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(self._on_cancel)

        top = QHBoxLayout()
        top.addWidget(title)
        top.addWidget(self.recommended)
        top.addStretch(1)
        top.addWidget(self.download_button)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addLayout(top)
        layout.addWidget(self.reason)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        self._show_idle()

    def start(self) -> None:
        """Start, or resume: `download` picks up the `.part` left by a pause."""
        self._pause.clear()
        self._cancel.clear()
        self._running = True
        self.download_button.hide()
        for widget in (self.progress, self.pause_button, self.cancel_button, self.status):
            widget.show()
        self.pause_button.setText("Pause")
        self.status.setText("Starting…")
        relay = _Relay()
        relay.progress.connect(self._on_progress)
        relay.finished.connect(self._on_finished)
        relay.stopped.connect(self._on_stopped)
        relay.failed.connect(self._on_failed)
        self._relay = relay  # keeps it alive; the thread holds its own reference too
        threading.Thread(target=self._work, args=(relay,), daemon=True).start()

    def _work(self, relay: _Relay) -> None:
        """Runs on the download thread: only the relay may be touched here."""
        try:
            path = download(
                self.entry.repo_id,
                self.entry.filename,
                paths.models_dir(),
                cancel=self._cancel,
                pause=self._pause,
                progress=relay.progress.emit,
                endpoint=self._endpoint,
            )
        except DownloadPaused:
            relay.stopped.emit("paused")
        except DownloadCancelled:
            relay.stopped.emit("cancelled")
        except Exception as exc:  # any failure must reach the row, not vanish
            relay.failed.emit(str(exc) or type(exc).__name__)
        else:
            relay.finished.emit(path)

    def _toggle_pause(self) -> None:
        if self._running:
            self._pause.set()
            self.pause_button.setEnabled(False)  # until the thread confirms at the next chunk
            self.status.setText("Pausing…")
        else:
            self.start()

    def _on_cancel(self) -> None:
        if self._running:
            self._cancel.set()
            self.status.setText("Cancelling…")
        else:  # paused or failed: no thread owns the part, so discard it here
            partial_path(paths.models_dir(), self.entry.filename).unlink(missing_ok=True)
            self._show_idle()

    def _on_progress(self, p: DownloadProgress) -> None:
        if p.total:
            self.progress.setValue(int(p.done / p.total * _PROGRESS_STEPS))
        self.status.setText(format_progress(p))

    def _on_finished(self, path: Path) -> None:
        self._running = False
        self.progress.setValue(_PROGRESS_STEPS)
        self.pause_button.hide()
        self.cancel_button.hide()
        self.status.setText(f"Downloaded to {path}")
        self.downloaded.emit(str(path))

    def _on_stopped(self, how: str) -> None:
        self._running = False
        if how == "cancelled":
            self._show_idle()
            return
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Resume")
        self.status.setText(f"Paused at {self.status.text() or 'the start'}")

    def _on_failed(self, message: str) -> None:
        self._running = False
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Resume")  # a retry resumes from the kept part
        self.status.setText(message)
        self.status.setStyleSheet("color: #c0392b;")

    def _show_idle(self) -> None:
        self.download_button.show()
        for widget in (self.progress, self.pause_button, self.cancel_button, self.status):
            widget.hide()
        self.pause_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setStyleSheet("")
        self.status.clear()


class FoundRow(QWidget):
    """A model already on disk; unusable ones stay listed, greyed, so the user learns why."""

    def __init__(self, found: Discovered, use: Callable[[Path], None]) -> None:
        super().__init__()
        self.found = found
        label = QLabel(f"{found.name} · {found.source} · {_size(found.size_bytes)}")
        self.use_button = QPushButton("Use")
        self.use_button.clicked.connect(lambda: use(found.path))
        if not found.usable:
            for widget in (label, self.use_button):
                widget.setEnabled(False)
                widget.setToolTip(found.problem or "Folio cannot load this file.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(label, 1)
        layout.addWidget(self.use_button)


class ModelsDialog(QDialog):
    """First-run setup and the Models page: what to download, what is already here."""

    model_chosen = Signal(str)  # the GGUF picked: discovered, downloaded, opened, or the demo

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        hardware: Hardware | None = None,
        discovered: list[Discovered] | None = None,
        endpoint: str | None = None,
    ) -> None:
        """`discovered` skips the disk scan (tests); `endpoint` points downloads at another hub."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        hw = hardware if hardware is not None else hardware_probe.detect()
        pick, fits = models_catalog.recommend(hw)

        self.summary = QLabel(f"This computer: {hw.summary()}")
        self.summary.setWordWrap(True)
        catalog_box = QGroupBox("Download a model")
        catalog_layout = QVBoxLayout(catalog_box)
        self.catalog_rows: dict[str, CatalogRow] = {}
        for fit in fits:
            is_pick = fit.entry == pick.entry
            # The pick's reason also says why a bigger model was passed over.
            row = CatalogRow(pick if is_pick else fit, is_pick, endpoint)
            row.downloaded.connect(self.model_chosen)
            catalog_layout.addWidget(row)
            self.catalog_rows[fit.entry.name] = row

        found_box = QGroupBox("Already on this computer")
        self._found_layout = QVBoxLayout(found_box)
        self.found_status = QLabel("Searching this computer for models…")
        self._found_layout.addWidget(self.found_status)
        self.found_rows: list[FoundRow] = []

        self.open_button = QPushButton("Open GGUF file…")
        self.open_button.clicked.connect(self._open_file)
        self.demo_button = QPushButton("Use the demo model")
        demo = demo_model_path()
        self.demo_button.setVisible(demo is not None)
        if demo is not None:
            self.demo_button.clicked.connect(lambda: self._use(demo))
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(catalog_box)
        layout.addWidget(found_box)
        layout.addLayout(buttons)

        if discovered is not None:
            self._show_found(discovered)
        else:
            self._scan()

    def _scan(self) -> None:
        relay = _Relay()
        self._scan_relay = relay
        relay.finished.connect(self._show_found, Qt.ConnectionType.QueuedConnection)
        relay.failed.connect(self.found_status.setText, Qt.ConnectionType.QueuedConnection)

        def work() -> None:
            try:
                relay.finished.emit(discover())
            except Exception as exc:  # discover skips errors; this is a backstop
                relay.failed.emit(f"Could not search for models: {exc}")

        threading.Thread(target=work, daemon=True).start()

    def _show_found(self, found: list[Discovered]) -> None:
        self.found_status.setText("" if found else "No models found.")
        self.found_status.setVisible(not found)
        for item in found:
            row = FoundRow(item, self._use)
            self._found_layout.addWidget(row)
            self.found_rows.append(row)

    def _open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open GGUF model", str(Path.home()), "GGUF models (*.gguf)"
        )
        if name:
            self._use(Path(name))

    def _use(self, path: Path) -> None:
        """An explicit pick of a file that is already here: hand it over and close."""
        self.model_chosen.emit(str(path))
        self.accept()
