"""The Models page: which model to download, the downloads themselves, models already here.

Shown as the first-run dialog (`models_dialog.ModelsDialog`, also Ctrl+M) and inside
Settings → Model. The page only draws: downloads belong to the window's `DownloadManager`,
so closing the page never stops one and reopening it shows the same download still going.
The disk scan reads every candidate's header, so it runs on a thread of its own; the demo
model and the file in use are listed at once, marked, before the scan answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import hardware as hardware_probe
from desktop_app.core.hardware import Hardware
from desktop_app.core.models import catalog as models_catalog
from desktop_app.core.models.catalog import Fit
from desktop_app.core.models.discovery import Discovered
from desktop_app.core.models.downloads import DownloadProgress
from desktop_app.core.models.installed import WHERE, InstalledModel, installed_models, same_file
from desktop_app.core.models.locator import demo_model_path
from desktop_app.ui.documents_panel import format_duration
from desktop_app.ui.download_manager import DownloadManager, Job
from desktop_app.ui.model_scan import ModelScan

_GiB = 1 << 30
_PROGRESS_STEPS = 1000  # QProgressBar holds an int; bytes of a 5 GB file overflow it
_ERROR_STYLE = "color: #c0392b;"


def _size(n: int) -> str:
    return f"{n / _GiB:.1f} GiB" if n >= _GiB else f"{n / 1e6:.0f} MB"


def format_progress(p: DownloadProgress) -> str:
    """Like "1.2 / 5.3 GiB · 12.5 MB/s · 5 min left"; speed and time only once known."""
    unit, scale = ("GiB", _GiB) if p.total >= _GiB else ("MB", 1e6)
    parts = [f"{p.done / scale:.1f} / {p.total / scale:.1f} {unit}"]
    if p.bytes_per_s is not None:
        parts.append(f"{p.bytes_per_s / 1e6:.1f} MB/s")
    if p.eta_s is not None:
        parts.append(f"{format_duration(p.eta_s)} left")
    return " · ".join(parts)


def describe(job: Job) -> str:
    """The one line under a catalog row that says where its download stands."""
    p = job.progress
    if job.state == "done":
        return f"Downloaded: {job.path}"
    if job.state == "failed":
        return job.message
    if job.state == "pausing":
        return "Pausing…"
    if job.state == "cancelling":
        return "Cancelling…"
    if p is None:
        return "Starting…" if job.state == "running" else ""
    if job.state == "paused":
        return f"Paused at {format_progress(DownloadProgress(p.done, p.total, None, None))}"
    if p.phase == "checking":
        return f"Checking the {_size(p.done)} already downloaded…"
    return format_progress(p)


class CatalogRow(QWidget):
    """One downloadable model: its verdict for this machine, and its download's state."""

    use = Signal(str)  # the downloaded file, when the user clicks Use

    def __init__(self, fit: Fit, recommended: bool, manager: DownloadManager) -> None:
        super().__init__()
        self.entry = fit.entry
        self._manager = manager

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
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button.clicked.connect(self._on_download)
        self.pause_button.clicked.connect(self._on_pause)
        self.cancel_button.clicked.connect(lambda: manager.cancel(self.entry.name))
        manager.changed.connect(self._on_changed)

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
        self.render(manager.job(self.entry))

    def render(self, job: Job) -> None:
        """Show exactly the controls that make sense in the job's state."""
        state = job.state
        self.download_button.setVisible(state in ("idle", "done"))
        self.download_button.setText("Use" if state == "done" else "Download")
        in_flight = state not in ("idle", "done")
        for widget in (self.progress, self.pause_button, self.cancel_button):
            widget.setVisible(in_flight)
        self.pause_button.setText("Pause" if job.busy else "Resume")
        self.pause_button.setEnabled(state in ("running", "paused", "failed"))
        self.cancel_button.setEnabled(state != "cancelling")
        p = job.progress
        self.progress.setValue(int(p.done / p.total * _PROGRESS_STEPS) if p and p.total else 0)
        self.status.setText(describe(job))
        self.status.setVisible(bool(self.status.text()))
        self.status.setStyleSheet(_ERROR_STYLE if state == "failed" else "")

    def _on_changed(self, name: str) -> None:
        if name == self.entry.name:
            self.render(self._manager.job(self.entry))

    def _on_download(self) -> None:
        job = self._manager.job(self.entry)
        if job.state == "done" and job.path is not None:
            self.use.emit(str(job.path))
        else:
            self._manager.start(self.entry)

    def _on_pause(self) -> None:
        if self._manager.job(self.entry).busy:
            self._manager.pause(self.entry.name)
        else:  # paused or failed: resume from the kept part
            self._manager.start(self.entry)


class FoundRow(QWidget):
    """A model already on disk; an unusable one stays listed, greyed, with the reason; the
    one in use says so instead of offering Use."""

    use = Signal(str)

    def __init__(self, found: InstalledModel, in_use: bool = False) -> None:
        super().__init__()
        self.found = found
        details = ", ".join(x for x in (found.architecture, found.quantization) if x)
        self.label = label = QLabel(
            f"{found.name} · {details or 'unknown format'} · "
            f"{_size(found.size_bytes)} · {WHERE[found.where]}"
        )
        label.setToolTip(str(found.path))
        if in_use:  # bold by font, not markup: the name is the user's file name
            font = label.font()
            font.setBold(True)
            label.setFont(font)
        self.use_button = QPushButton("In use" if in_use else "Use")
        self.use_button.setEnabled(not in_use)
        self.use_button.clicked.connect(lambda: self.use.emit(str(found.path)))
        self.problem = QLabel(found.problem or "")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_ERROR_STYLE)
        self.problem.setVisible(not found.usable)
        if not found.usable:
            label.setEnabled(False)
            self.use_button.setEnabled(False)
            self.use_button.setToolTip(found.problem or "Folio cannot load this file.")
        top = QHBoxLayout()
        top.addWidget(label, 1)
        top.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addLayout(top)
        layout.addWidget(self.problem)


class ModelsPage(QWidget):
    """Recommendation, downloads, models already on this computer, a file, or the demo."""

    model_chosen = Signal(str)  # a GGUF: discovered, downloaded, opened, or the demo

    def __init__(
        self,
        manager: DownloadManager,
        *,
        hardware: Hardware | None = None,
        discovered: list[Discovered] | None = None,
        show_open: bool = True,
        in_use: Path | None = None,
        opened: Sequence[Path | None] = (),
    ) -> None:
        """`discovered` skips the disk scan (tests); `show_open` adds "Open GGUF file…";
        `in_use` is the model answering now (marked), listed with the `opened` files (the
        configured one) wherever they are."""
        super().__init__()
        self._manager = manager
        self._in_use = in_use
        self._opened = (in_use, *opened)
        hw = hardware if hardware is not None else hardware_probe.detect()
        pick, fits = models_catalog.recommend(hw)

        self.summary = QLabel(f"This computer: {hw.summary()}")
        self.summary.setWordWrap(True)
        catalog_box = QGroupBox("Download a model (Qwen3.5, Q4_K_M)")
        catalog_layout = QVBoxLayout(catalog_box)
        self.catalog_rows: dict[str, CatalogRow] = {}
        for fit in fits:
            is_pick = fit.entry == pick.entry
            # The pick's reason also says why a bigger model was passed over.
            row = CatalogRow(pick if is_pick else fit, is_pick, manager)
            row.use.connect(self.model_chosen)
            catalog_layout.addWidget(row)
            self.catalog_rows[fit.entry.name] = row
        self.token_edit = QLineEdit(manager.token or "")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(
            "only for gated or private models; kept until Folio closes, never saved"
        )
        self.token_edit.textChanged.connect(self._set_token)
        token_row = QHBoxLayout()
        token_row.addWidget(QLabel("Access token:"))
        token_row.addWidget(self.token_edit, 1)
        catalog_layout.addLayout(token_row)

        found_box = QGroupBox("On this computer")
        self._found_layout = QVBoxLayout(found_box)
        self.found_status = QLabel("Searching this computer for models…")
        self._found_layout.addWidget(self.found_status)
        self.found_rows: list[FoundRow] = []

        self.open_button = QPushButton("Open GGUF file…")
        self.open_button.clicked.connect(self._open_file)
        self.open_button.setVisible(show_open)
        self.buttons = QHBoxLayout()
        self.buttons.addWidget(self.open_button)
        self.buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(catalog_box)
        layout.addWidget(found_box)
        layout.addStretch(1)  # spare height goes below the lists, not between the lines
        layout.addLayout(self.buttons)

        self._show_found(discovered or [], searching=discovered is None)
        if discovered is None:
            self._scanner = ModelScan(self)
            self._scanner.found.connect(self._show_found)
            self._scanner.failed.connect(self.found_status.setText)
            self._scanner.start()

    def _set_token(self, text: str) -> None:
        self._manager.token = text.strip() or None

    def _show_found(self, found: list[Discovered], searching: bool = False) -> None:
        """List the installed models: the demo and opened ones at once, then (again) with
        what the disk scan found."""
        for row in self.found_rows:
            row.deleteLater()
        self.found_rows = []
        models = installed_models(found, demo=demo_model_path(), opened=self._opened)
        for model in models:
            row = FoundRow(model, in_use=same_file(model.path, self._in_use))
            row.use.connect(self.model_chosen)
            self._found_layout.addWidget(row)
            self.found_rows.append(row)
        status = "Searching this computer for more models…" if searching else ""
        self.found_status.setText(status or ("" if models else "No models found."))
        self.found_status.setVisible(bool(self.found_status.text()))
        self._found_layout.addWidget(self.found_status)  # below the rows

    def _open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open GGUF model", str(Path.home()), "GGUF models (*.gguf)"
        )
        if name:
            self.model_chosen.emit(name)
