"""Start the desktop app: QApplication, the window, and `--smoke-test`.

Kept apart from app.py so that the CLI never imports Qt. A start while Folio is already
running hands its documents to that window and exits (single_instance.py), before anything
loads a model; `--smoke-test` always runs on its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from desktop_app import paths
from desktop_app import settings as settings_mod
from desktop_app.core.models.locator import model_to_load
from desktop_app.errors import FolioError

SMOKE_QUESTION = "Say hello in one short sentence."
SMOKE_TIMEOUT_MS = 180_000


def run(files: Sequence[str], model: str | None, smoke_test: bool) -> int:
    """Open the window with `files` in a new chat, or hand them to the Folio already running;
    returns the exit status."""
    if smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif _no_display():
        raise FolioError(
            "No display found for the window. Use 'folio chat' or 'folio ask' in a terminal, "
            "or run Folio from a desktop session."
        )
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.history.store import Store
    from desktop_app.ui import error_hook
    from desktop_app.ui.file_open import DocumentRouter
    from desktop_app.ui.message_box import Icon, show_message
    from desktop_app.ui.single_instance import SingleInstance

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not smoke_test:  # the smoke test must fail loudly instead
        error_hook.install(app)
    app.setApplicationName("Folio")
    app.setDesktopFileName("org.folio.Folio")  # Wayland app id = the menu entry's file name
    router = DocumentRouter(app)  # catches macOS file-open events from now on
    instance = None if smoke_test else SingleInstance()
    try:
        if instance is not None:
            if not instance.claim(files, router.hand_over):
                return 0  # the running Folio opened the files
            app.lastWindowClosed.connect(instance.close)  # a closing window takes no files
        settings = settings_mod.load()
        model_path = model_to_load(model, settings)
        store = Store()
    except FolioError as exc:
        if smoke_test:
            raise
        show_message(None, str(exc), Icon.Critical)
        return 2
    # Imported only by the start that opens the window (about a second: the model's stack).
    from desktop_app.core.chat.session_host import SessionHost
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.theme import apply_theme

    app.setWindowIcon(QIcon(str(paths.resource_path("folio.svg"))))
    apply_theme(app, settings.theme)
    window = MainWindow(store, SessionHost(model_path, settings))
    router.attach(window, files)
    if smoke_test:
        return _smoke(app, window)
    window.show()
    if store.recovery is not None:
        # The user's own history was damaged and rebuilt: say so, with what was kept.
        show_message(window, store.recovery.message())
    first_run = settings.model_path is None and settings.backend is None
    if first_run and store.app_state("first_run_done") is None:
        # First start: show what to download (or use) while the demo model answers.
        store.set_app_state("first_run_done", "1")
        window.open_models()
    code = app.exec()
    store.close()
    return code


def _smoke(app, window) -> int:
    """Build the window, load the model, answer one short question, exit 0."""
    from PySide6.QtCore import QTimer

    outcome: dict[str, object] = {}

    def ended(finish_reason: str, stats: object) -> None:
        outcome["finish_reason"], outcome["stats"] = finish_reason, stats
        app.quit()

    def failed(message: str) -> None:
        outcome["error"] = message
        app.quit()

    window.answer_ended.connect(ended)
    window.error_shown.connect(failed)
    QTimer.singleShot(0, lambda: window.controller.send(SMOKE_QUESTION))
    QTimer.singleShot(SMOKE_TIMEOUT_MS, app.quit)
    app.exec()
    window.close()
    stats = outcome.get("stats")
    rendered = _smoke_render()
    if isinstance(stats, dict) and stats["decode_tokens"] > 0 and not rendered.startswith("!"):
        print(f"smoke test ok: {stats['decode_tokens']} tokens, {stats['placement']}; {rendered}")
        return 0
    why = outcome.get("error") or outcome.get("finish_reason") or "no answer in time"
    why = rendered[1:] if rendered.startswith("!") else why
    print(f"smoke test failed: {why}", file=sys.stderr)
    return 1


#: A one-page PDF with one line of text (PDFium rebuilds the missing cross-reference table).
_SMOKE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 47>>stream\nBT /F1 18 Tf 20 100 Td (Folio smoke test) Tj ET\nendstream"
    b"\nendobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer"
    b"<</Root 1 0 R>>\n%%EOF\n"
)


def _smoke_render() -> str:
    """The source pane's renderer (a child process, in the bundle too) draws a page and
    finds a quote on it: what it measured, or "!" and what went wrong."""
    from desktop_app.core.documents.render_service import PageRenderer

    pdf = paths.cache_dir() / "smoke-test.pdf"
    pdf.write_bytes(_SMOKE_PDF)
    renderer = PageRenderer()
    try:
        page, _ = renderer.render(pdf, 1, 2.0, "smoke test")
    except FolioError as exc:
        return f"!rendering a page failed: {exc}"
    finally:
        renderer.close()
        pdf.unlink(missing_ok=True)
    if len(page.highlights) != 1:
        return "!the page rendered, but its quote was not highlighted"
    return f"page rendered in {page.render_ms:.0f} ms with its quote highlighted"


def _no_display() -> bool:
    """On Linux, Qt aborts the process without a display; say so in one line instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
