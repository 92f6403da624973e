"""Settings → Model: the GGUF file (validated as typed) or an engine server that answers.

A model path that fails validation does not disable OK: the file may live on a drive that
is not mounted right now, and the user must still be able to change other settings. The
error is shown here, and a failed load is reported by the app.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop_app.core.models.gguf_header import ModelInfo, read_model_info
from desktop_app.core.models.locator import demo_model_path
from desktop_app.errors import ModelFileError
from desktop_app.settings import Settings
from desktop_app.ui.dialogs.form_widgets import hint, row, tint, watch

# Typing a path fires on every key; reading a header on each would stutter on slow disks.
VALIDATE_DELAY_MS = 250


def describe_model(info: ModelInfo) -> str:
    """One line that lets the user recognise the file, e.g. "qwen35 · 9B · Q4_K_M · ..."."""
    parts = [info.architecture, info.size_label, info.quantization]
    parts.append(f"trained for {info.n_ctx_train:,} tokens")
    return " · ".join(p for p in parts if p)


class ModelTab(QWidget):
    #: The chosen (or demo) model's header was read: its ModelInfo, or None when unreadable.
    model_read = Signal(object)
    changed = Signal()

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self._saved_path = s.model_path
        self.info: ModelInfo | None = None
        self._validate_timer = QTimer(self, singleShot=True, interval=VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validate)
        self.model_edit = QLineEdit(s.model_path or "")
        self.model_edit.setPlaceholderText("(demo model when empty)")
        self.model_edit.setMinimumWidth(360)
        self.model_edit.textChanged.connect(lambda: self._validate_timer.start())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = row(self.model_edit, browse, stretch=False)
        self.model_status = QLabel()
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout(self)
        about = hint("A GGUF file. Folio is tuned for Qwen3.5 models.")
        form.addRow("Model file:", row(path_row, self.model_status, about, vertical=True))
        self.backend_url = QLineEdit(s.backend_url)
        self.backend_url.setPlaceholderText("(none: the model file above runs in Folio)")
        self.backend_key = QLineEdit(s.backend_key)
        self.backend_key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.backend_key.setPlaceholderText("(none)")
        self.backend_model = QLineEdit(s.backend_model)
        self.backend_model.setPlaceholderText("(the first model the server lists)")
        about = hint("An OpenAI-compatible server (llama-server, vLLM, SGLang, Ollama, "
                     "another Folio), e.g. http://gpu-box:8080/v1, answers instead of the "
                     "model file. Documents and chats stay on this computer; the server reads "
                     "what is asked. The key is kept in Folio's settings file.")  # fmt: skip
        form.addRow("Engine server:", row(self.backend_url, about, vertical=True))
        form.addRow("API key:", self.backend_key)
        form.addRow("Server model:", self.backend_model)
        watch(self, self.changed.emit)

    def values(self) -> dict[str, object]:
        return {
            # Kept as typed ("~" included): resolve_model expands it, and an untouched
            # path must compare equal so that it does not count as a reload.
            "model_path": self.model_edit.text().strip() or None,
            "backend_url": self.backend_url.text().strip(),
            "backend_key": self.backend_key.text().strip(),
            "backend_model": self.backend_model.text().strip(),
        }

    def edited(self) -> bool:
        """Whether the user changed the model field (typed, browsed or picked a model)."""
        return (self.model_edit.text().strip() or None) != self._saved_path

    def pick(self, path: str) -> None:
        """A model chosen on the Models tab: the demo model is the empty field."""
        demo = demo_model_path()
        self.model_edit.setText("" if demo is not None and Path(path) == demo else path)
        self.validate()

    def validate(self) -> None:
        """Read the chosen (or demo) model's header and show what it is or what is wrong."""
        self._validate_timer.stop()
        text = self.model_edit.text().strip()
        path = Path(text).expanduser() if text else demo_model_path()
        self.info = None
        if path is None:
            self._show_status("No model is set and the demo model is not installed.", error=True)
        else:
            try:
                self.info = read_model_info(path)
            except ModelFileError as exc:
                self._show_status(str(exc), error=True)
            else:
                prefix = "" if text else "Demo model: "
                self._show_status(prefix + describe_model(self.info), error=False)
        self.model_read.emit(self.info)

    def _browse(self) -> None:
        current = Path(self.model_edit.text().strip()).expanduser()
        start = str(current.parent if current.parent.is_dir() else Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model file", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.model_edit.setText(path)
            self.validate()

    def _show_status(self, text: str, *, error: bool) -> None:
        self.model_status.setText(text)
        tint(self.model_status, error)
