"""The Settings dialog's "System" tab: what `folio system` prints, with a Copy button.

Collecting the report asks the GPU backends for their devices and reads /proc (a Vulkan
driver can take a second or more to enumerate), so it runs on a short-lived thread when
the tab is first shown, never on the UI thread, and comes back as a queued signal.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from desktop_app.core.hardware.system_report import format_report, system_report

log = logging.getLogger(__name__)

COLLECTING = "Collecting system information…"


class _ReportRelay(QObject):
    ready = Signal(object)  # the report dict
    failed = Signal(str)


class SystemPage(QWidget):
    """The machine and the llama.cpp build, as a person reads it and pastes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict[str, Any] | None = None
        self._relay: _ReportRelay | None = None
        intro = QLabel(
            "What Folio runs on. Paste this into a bug report about speed, memory or a crash."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setPlainText(COLLECTING)
        self.copy_text = QPushButton("Copy")
        self.copy_json = QPushButton("Copy as JSON")
        for button in (self.copy_text, self.copy_json):
            button.setEnabled(False)
        self.copy_text.clicked.connect(lambda: self._copy(self.text.toPlainText()))
        self.copy_json.clicked.connect(lambda: self._copy(json.dumps(self.report, indent=2)))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_text)
        buttons.addWidget(self.copy_json)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._relay is None:
            self.collect()

    def collect(self) -> None:
        """Starts collecting the report in the background (once per page)."""
        relay = _ReportRelay()
        self._relay = relay
        relay.ready.connect(self._show, Qt.ConnectionType.QueuedConnection)
        relay.failed.connect(self._show_failure, Qt.ConnectionType.QueuedConnection)

        def work() -> None:
            try:
                relay.ready.emit(system_report())
            except Exception as exc:  # a report must never take the dialog down
                log.exception("system report failed")
                relay.failed.emit(f"Could not collect system information: {exc}")

        threading.Thread(target=work, name="folio-system-report", daemon=True).start()

    def _show(self, report: dict[str, Any]) -> None:
        self.report = report
        self.text.setPlainText(format_report(report))
        for button in (self.copy_text, self.copy_json):
            button.setEnabled(True)

    def _show_failure(self, message: str) -> None:
        self.text.setPlainText(message)

    @staticmethod
    def _copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)
