"""The main window: conversations on the left, the chat in the middle, documents on the right.

The window is a view of the `ChatController` (core/chat/controller.py), which runs the answer
lifecycle: the window turns clicks into the controller's commands and renders what the
controller tells it (it implements `ConversationView`). It never tracks requests itself, so
an answer keeps streaming into its own conversation whatever the user opens meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app import settings as settings_mod
from desktop_app.core.chat.cards import DocumentCard
from desktop_app.core.chat.controller import ChatController
from desktop_app.core.chat.export import Turn, turns
from desktop_app.core.chat.session_host import Opened, SessionHost
from desktop_app.core.chat.view import PasswordQuestion, ShownMessage
from desktop_app.core.documents.library import DocumentLibrary
from desktop_app.core.history.store import Store
from desktop_app.core.llm.events import PrefillProgress
from desktop_app.core.models.locator import model_to_load
from desktop_app.errors import FolioError
from desktop_app.server.background import BackgroundServer
from desktop_app.ui.chat_export import ask_where, write_export
from desktop_app.ui.chat_markdown import format_stats
from desktop_app.ui.chat_view import ChatView
from desktop_app.ui.composer import Composer
from desktop_app.ui.conversation_list import ConversationList
from desktop_app.ui.dialogs import help_dialogs
from desktop_app.ui.dialogs.models_page import format_progress
from desktop_app.ui.dialogs.settings_dialog import SettingsDialog, needs_reload
from desktop_app.ui.documents_panel import DocumentsPanel
from desktop_app.ui.download_manager import DownloadManager
from desktop_app.ui.elided_label import ElidedLabel
from desktop_app.ui.local_api import LocalApi
from desktop_app.ui.menu_bar import Commands, MenuBar
from desktop_app.ui.message_box import confirm, notify
from desktop_app.ui.model_picker import ModelPicker
from desktop_app.ui.password_dialog import ask_password
from desktop_app.ui.qt_dispatch import QtDispatcher
from desktop_app.ui.source_pane import SourcePane
from desktop_app.ui.source_ref import SourceRef
from desktop_app.ui.theme import apply_theme

#: The source pane's width the first time it opens (then the user's, remembered).
SOURCE_WIDTH = 560
#: How long Quit waits for the engine's job in flight to stop.
QUIT_WAIT_S = 1.0
#: How long the "downloaded" notice stays in the status bar.
NOTICE_MS = 15_000


class MainWindow(QMainWindow):
    #: An answer in the open conversation ended: finish reason, stats (None if it never ran).
    answer_ended = Signal(str, object)
    #: An error was shown to the user.
    error_shown = Signal(str)

    def __init__(
        self, store: Store, host: SessionHost, downloads: DownloadManager | None = None
    ) -> None:
        super().__init__()
        self.downloads = downloads or DownloadManager(self)
        self.setWindowTitle("Folio")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        # The one owner of documents, shared by the controller and the source pane.
        library = DocumentLibrary(host.settings.max_document_bytes, host.settings.ocr_languages)
        self._build(library)
        self.controller = ChatController(store, host, self, QtDispatcher(self), library=library)
        self.api = LocalApi(self.controller, self.show_error)  # the local API, when on
        self.statusBar().insertPermanentWidget(2, self.api.label)
        self._connect()
        self.controller.restore()
        self.api.apply(host.settings)

    # The controller's state, named for what callers and tests ask of the window.
    @property
    def store(self) -> Store:
        return self.controller.store

    @property
    def host(self) -> SessionHost:
        return self.controller.host

    @property
    def conversation_id(self) -> int | None:
        return self.controller.conversation_id

    @property
    def preparing(self) -> bool:
        return self.controller.preparing

    @property
    def api_server(self) -> BackgroundServer | None:
        return self.api.server

    # ------------------------------------------------------------------ layout
    def _build(self, library: DocumentLibrary) -> None:
        self.sidebar = ConversationList()
        self.chat = ChatView()
        self.composer = Composer()
        self.picker = ModelPicker()
        middle = QWidget()
        lay = QVBoxLayout(middle)
        lay.addWidget(self.picker, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.chat, 1)
        lay.addWidget(self.composer)
        self.documents = DocumentsPanel()
        self.source = SourcePane(library)
        self.source.hide()  # until a citation is clicked
        self.splitter = split = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.sidebar, middle, self.source, self.documents):
            split.addWidget(widget)
            split.setStretchFactor(split.count() - 1, 1 if widget is middle else 0)
        split.setCollapsible(1, False)
        split.setSizes([240, 760, 0, 300])
        self.setCentralWidget(split)
        # The model and where it runs; the picker above the chat follows its text.
        self.model_label = ElidedLabel("Loading model…")
        self.context_meter = QProgressBar(minimumWidth=190, maximumWidth=240, textVisible=True)
        self.context_meter.hide()  # until an answer says how much of the context it fills
        self.speed_label = QLabel("")
        self.download_label = QLabel("")
        bar = self.statusBar()
        bar.addWidget(self.model_label, 1)
        bar.addPermanentWidget(self.download_label)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.context_meter)

    def _connect(self) -> None:
        c = self.controller
        self.menus = MenuBar(self, Commands(
            new_chat=c.new_conversation, open_documents=self.attach_files,
            export_chat=self.export_chat, quit=self.close,
            find_chats=self.sidebar.search.setFocus, stop=c.stop,
            show_source=self.show_source_pane,
            source_state=lambda: (self.source.ref is not None, self.source.isVisible()),
            set_theme=self.set_theme, theme=lambda: settings_mod.load().theme,
            models=self.open_models, settings=self.open_settings,
            set_api=self.set_api, api_on=lambda: self.api.server is not None,
            about=self.show_about, system_report=self.show_system_report,
            log_folder=self.open_log_folder,
        ))  # fmt: skip
        self.picker.chosen.connect(self.use_model)
        self.picker.find_requested.connect(self.open_models)
        self.model_label.text_changed.connect(self._show_model)
        self.sidebar.new_requested.connect(lambda: c.new_conversation())
        self.sidebar.search_changed.connect(self.conversations_changed)
        self.sidebar.picked.connect(c.open_conversation)
        self.sidebar.rename_requested.connect(self.rename_conversation)
        self.sidebar.delete_requested.connect(self.delete_conversation)
        self.composer.send_requested.connect(c.send)
        self.composer.stop_requested.connect(c.stop)
        self.composer.draft_changed.connect(c.save_draft)
        self.composer.thinking_toggled.connect(lambda on: setattr(c, "thinking", on))
        self.composer.files_pasted.connect(c.add_files)
        self.documents.files_dropped.connect(c.add_files)
        self.documents.attach_requested.connect(self.attach_files)
        self.documents.remove_requested.connect(c.remove_document)
        self.documents.cancel_requested.connect(c.cancel_reading)
        self.chat.regenerate_requested.connect(c.regenerate)
        self.chat.continue_requested.connect(c.continue_answer)
        self.chat.edit_requested.connect(self.edit_last)
        self.chat.citation_clicked.connect(self.show_source)
        self.chat.export_requested.connect(self.export_answer)
        self.source.closed.connect(self._remember_source_width)
        self.downloads.changed.connect(self._show_downloads)
        self.downloads.downloaded.connect(self._on_model_downloaded)
        self.download_label.linkActivated.connect(lambda _link: self.open_models())
        self._show_downloads()

    # ------------------------------------------------- commands that need a dialog
    def attach_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Attach documents", str(Path.home()),
            "Documents (*.pdf *.docx *.txt *.md *.csv *.html *.htm *.png *.jpg *.jpeg *.tif *.tiff)"
            ";;Scans and photos (*.png *.jpg *.jpeg *.tif *.tiff);;All files (*)",
        )  # fmt: skip
        self._take_focus_back()
        if paths:
            self.controller.add_files(paths)

    def open_files(self, paths: Sequence[str]) -> None:
        """Documents Folio was asked to open (command line, a second start, the OS)."""
        self.controller.open_files(paths)

    def rename_conversation(self) -> None:
        row = self.store.conversation(self.conversation_id or 0)
        if row is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=row.title)
        if ok:
            self.controller.rename_conversation(row.id, title)

    def delete_conversation(self) -> None:
        row = self.store.conversation(self.conversation_id or 0)
        if row is None:
            return
        if confirm(self, "Delete chat", f"Delete “{row.title}” and its messages?"):
            self.controller.delete_conversation(row.id)

    def edit_last(self) -> None:
        question = self.controller.last_question()
        if question is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Edit question", "Question:", question)
        if ok:
            self.controller.edit_last(text)

    def open_settings(self) -> None:
        saved = settings_mod.load()  # the View and Model menus save these two directly
        shown = self.host.settings.replace(theme=saved.theme, api_server=saved.api_server)
        dialog = SettingsDialog(shown, self, downloads=self.downloads)
        accepted = dialog.exec() == SettingsDialog.DialogCode.Accepted
        dialog.deleteLater()  # its Models tab would keep following the downloads
        self._take_focus_back()
        if not accepted:
            return
        new = dialog.result_settings()
        if not dialog.model_edited():
            # A model switched while the dialog was open (a download finished) stays.
            new = new.replace(model_path=settings_mod.load().model_path)
        settings_mod.save(new)
        apply_theme(QApplication.instance(), new.theme)
        try:
            model_path = model_to_load(None, new)
        except FolioError as exc:
            self.show_error(str(exc))
            return
        if needs_reload(self.host.settings, new):
            self.model_label.setText("Reloading the model with the new settings…")
        self.controller.reconfigure(model_path, new)
        self.api.apply(new)

    def set_theme(self, theme: str) -> None:
        """View → Theme: applied at once and saved, as the Settings dialog does."""
        settings_mod.save(settings_mod.load().replace(theme=theme))
        apply_theme(QApplication.instance(), theme)

    def set_api(self, on: bool) -> None:
        """Model → Local API: saved, then started or stopped as Settings would."""
        new = settings_mod.load().replace(api_server=on)
        settings_mod.save(new)
        self.api.apply(new)

    def open_models(self) -> QWidget:
        """The models dialog (first run and Ctrl+M): pick, find or download a model."""
        from desktop_app.ui.dialogs.models_dialog import ModelsDialog

        configured = settings_mod.load().model_path
        dialog = ModelsDialog(self.downloads, self, in_use=self.host.model_path,
                              opened=[Path(configured) if configured else None])  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # reopening builds a new one
        dialog.model_chosen.connect(self.use_model)
        dialog.finished.connect(self._take_focus_back)
        dialog.show()
        return dialog

    def _take_focus_back(self) -> None:
        """A closed dialog hands the keyboard back to the window, so its shortcuts work at
        once (without a window manager to do it, Ctrl+O after the Models dialog went
        nowhere and the typed path ended up in the composer)."""
        self.activateWindow()

    def _show_model(self, text: str) -> None:
        """The picker says what the status bar's model label says, without the placement."""
        configured = settings_mod.load().model_path
        self.picker.show_model(text.split(" · ")[0], self.host.model_path,
                               Path(configured) if configured else None)  # fmt: skip

    def show_about(self) -> QWidget:
        return help_dialogs.show_about(self)

    def show_system_report(self) -> QWidget:
        return help_dialogs.show_system_report(self, self._take_focus_back)

    def open_log_folder(self) -> None:
        help_dialogs.open_log_folder(self.show_error)

    def show_source_pane(self, shown: bool) -> None:
        """View → Source pane: the last cited page again, or the pane closed."""
        if not shown:
            self.source.close_pane()
        elif self.source.ref is not None:
            self.show_source(self.source.ref)

    def use_model(self, path: str) -> None:
        self.controller.use_model(path)

    def _on_model_downloaded(self, name: str, path: str) -> None:
        """A finished download replaces the demo model; a chosen model stays until asked.
        The saved settings decide (not the host's, updated only when the engine thread gets
        to the switch), so two downloads finishing together switch once."""
        if settings_mod.load().model_path is None:
            self.use_model(path)
            self.statusBar().showMessage(f"{name} downloaded; Folio now uses it.", NOTICE_MS)
        else:
            self.statusBar().showMessage(
                f"{name} downloaded. Choose it in Models (Ctrl+M) to use it.", NOTICE_MS
            )

    def _show_downloads(self, _name: str = "") -> None:
        """ "Downloading Qwen3.5-9B: 41 % · 12 MB/s · 5 min left" while any download runs."""
        parts = []
        for job in (j for j in self.downloads.jobs() if j.busy):
            p = job.progress
            done = f"{p.done / p.total:.0%} · {format_progress(p)}" if p and p.total else "…"
            parts.append(f"{job.entry.name}: {done}")
        self.download_label.setText(
            f'<a href="models">Downloading</a> {"; ".join(parts)}' if parts else ""
        )
        self.download_label.setVisible(bool(parts))

    def show_source(self, ref: SourceRef) -> None:
        """A citation was clicked: its page beside the chat, as wide as the user left it."""
        if self.source.isHidden():
            saved = self.store.app_state("source_pane_width")
            self.source.open_beside(int(saved) if saved and saved.isdigit() else SOURCE_WIDTH)
        self.source.show_source(ref, self.controller.document_paths())

    def export_answer(self, index: int, path: str | None = None) -> None:
        """Save the answer at transcript position `index`, with its question and checked
        citations, as Markdown (`path`: where, else asked)."""
        cid = self.conversation_id or 0
        pairs = turns(self.store.messages(cid))
        # The transcript alternates question, answer: answer k is message 2k + 1.
        if not 0 <= index // 2 < len(pairs):
            return
        turn = pairs[index // 2]
        self._export([turn], "Export answer", turn.question or "answer", path)

    def export_chat(self, path: str | None = None) -> None:
        """File → Export chat…: the whole conversation as Markdown, as `folio ask --export`."""
        cid = self.conversation_id or 0
        pairs = turns(self.store.messages(cid))
        if not pairs:
            self.statusBar().showMessage("This chat has no answers to export yet.", NOTICE_MS)
            return
        row = self.store.conversation(cid)
        self._export(pairs, "Export chat", row.title if row else "chat", path)

    def _export(self, pairs: list[Turn], caption: str, name: str, path: str | None) -> None:
        """Write `pairs` with their checked citations to `path` (else asked, as `name`.md)."""
        if path is None:
            path = ask_where(self, caption, name)
            self._take_focus_back()
            if not path:
                return
        cid = self.conversation_id or 0
        documents = [Path(d.path).name for d in self.store.documents(cid)]
        try:
            write_export(path, pairs, documents, self.model_label.text().split(" · ")[0] or None)
        except FolioError as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Exported to {path}", NOTICE_MS)

    def _remember_source_width(self) -> None:
        width = self.splitter.sizes()[2] or self.source.width()
        if width > 0:
            self.store.set_app_state("source_pane_width", str(width))

    # ------------------------------------------- ConversationView: what the controller shows
    def show_messages(self, messages: Sequence[ShownMessage]) -> None:
        self.chat.set_messages(messages)
        # The meter and the speed are this chat's (its last answer's), not the chat left.
        last = next((m.stats for m in reversed(messages) if m.role == "assistant" and m.stats),
                    None)  # fmt: skip
        if last is not None:
            self.answer_stats(last, last.get("prompt_tokens", 0) + last.get("decode_tokens", 0))
        else:
            self.speed_label.clear()
            self.context_meter.hide()

    def add_user_message(self, text: str) -> None:
        self.chat.add_user_message(text)

    def begin_answer(self) -> None:
        self.chat.begin_answer(self.documents.readable_count())

    def append_answer(self, answer: str, reasoning: str) -> None:
        self.chat.append_delta(answer, reasoning)

    def mark_citations(self, found: dict) -> None:
        self.chat.mark_streaming_citations(found)

    def end_answer(self, stats: dict | None, finish_reason: str) -> None:
        self.chat.end_answer(stats, finish_reason)
        self.answer_ended.emit(finish_reason, stats)

    def answer_stats(self, stats: dict, used_tokens: int) -> None:
        self.speed_label.setText(format_stats(stats))
        self.context_meter.setValue(min(used_tokens, self.context_meter.maximum()))
        self.context_meter.show()

    def set_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)

    def show_draft(self, text: str) -> None:
        self.composer.set_text(text)

    def show_progress(self, progress: PrefillProgress, label: str, unit: str) -> None:
        """Reading a prompt: in the answer that waits for it, else (extraction, pre-reading
        the documents) in the documents panel's progress row."""
        if unit == "tokens" and self.chat.show_reading(progress, self.documents.readable_count()):
            self.documents.clear_progress()  # a pre-read's row would stand still meanwhile
            return
        rate = math.nan if progress.tokens_per_s is None else progress.tokens_per_s
        eta = math.nan if progress.eta_s is None else progress.eta_s
        self.documents.set_progress(progress.done, progress.total, rate, eta, label, unit)

    def clear_progress(self) -> None:
        self.documents.clear_progress()

    def show_cards(self, cards: Sequence[DocumentCard]) -> None:
        self.documents.set_cards(cards)
        self.documents.set_plan(self.controller.session.plan_line(self.conversation_id or 0))

    def update_card(self, card: DocumentCard) -> None:
        self.documents.update_card(card)

    def remove_card(self, key: str) -> None:
        self.documents.remove_card(key)

    def session_opened(self, opened: Opened) -> None:
        self.model_label.setText(f"{opened.model} · {opened.placement}")
        # The meter fills the context loaded (Opened.n_ctx); the plan line says the same number
        # and what the documents take of it, once, so the two never disagree.
        self.context_meter.setRange(0, opened.n_ctx)
        self.context_meter.setFormat(f"Context: %v / {opened.n_ctx:,} tokens")
        self.context_meter.setToolTip(
            f"Tokens this conversation fills of the {opened.n_ctx:,}-token context loaded."
            + (f"\nDocuments: {opened.context}" if opened.context else "")
        )
        self.composer.set_thinking(self.controller.thinking, supported=opened.thinking_supported)

    def model_status(self, text: str) -> None:
        self.model_label.setText(text)

    def conversations_changed(self) -> None:
        rows = self.store.list_conversations(self.sidebar.query())
        self.sidebar.show_rows(rows, self.conversation_id)

    def show_error(self, message: str) -> None:
        self.error_shown.emit(message)
        notify(self, message)

    def request_password(self, question: PasswordQuestion) -> None:
        ask_password(self, question)

    # ------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.controller.add_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Stop cleanly: the answer in flight ends within about a second and is saved.
        "Closing…" is drawn first, since stopping a read or an answer takes a moment."""
        self.statusBar().showMessage("Closing…")
        self.statusBar().repaint()  # now: the event loop does not run again before the exit
        self.controller.save_draft(self.composer.text())
        self.api.stop()  # no new API requests while the engine stops
        if self.source.isVisible():
            self._remember_source_width()
        self.source.shutdown()
        # A decode stops within a fraction of a second; a model load cannot be stopped, and
        # waiting for it would keep a closed window's process alive for seconds: the process
        # ends right after this (app._exit_at_once) and the OS takes the memory back.
        self.controller.shutdown(QUIT_WAIT_S)
        self.downloads.shutdown()  # pauses them; the next start shows them paused
        event.accept()
