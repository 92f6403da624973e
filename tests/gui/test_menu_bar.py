"""The menu bar: every menu action reaches its dialog or command on the real window, each
command has one shortcut, and the macOS app-menu roles are set."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from desktop_app import __version__, paths
from desktop_app import settings as settings_mod
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.theme import apply_theme

MENUS = {
    "File": ["New chat", "Open…", "Export chat…", "Quit"],
    "Edit": ["Undo", "Redo", "Cut", "Copy", "Paste", "Select All", "Find chats"],
    "View": ["Source pane", "Theme"],
    "Model": ["Choose or download models…", "Settings…", "Local API", "Stop the answer"],
    "Help": ["About Folio", "System report", "Open log folder"],
}


def _trigger(window: MainWindow, menu: str, text: str) -> None:
    window.menus.menus[menu].aboutToShow.emit()  # as when the user opens the menu
    window.menus.action(menu, text).trigger()


def _top_level(title: str) -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowTitle() == title]


def _shown(qtbot, window: MainWindow) -> MainWindow:
    """On screen and active: shortcuts and focus work only in the active window."""
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    return window


def test_the_menus_read_as_designed_with_one_shortcut_per_command(make_window) -> None:
    window = make_window()
    bar = window.menuBar()
    titles = [a.text().replace("&", "") for a in bar.actions()]
    assert titles == list(MENUS)
    for menu, expected in MENUS.items():
        texts = [a.text().replace("&", "") for a in window.menus.menus[menu].actions()]
        assert [t for t in texts if t] == expected  # separators have no text
    shortcuts = {
        window.menus.action(m, t).shortcut().toString(): t
        for m, t in [("File", "New chat"), ("File", "Open…"), ("Edit", "Find chats"),
                     ("Model", "Choose or download models…"), ("Model", "Settings…"),
                     ("Model", "Stop the answer"), ("File", "Quit")]
    }  # fmt: skip
    assert shortcuts == {
        "Ctrl+N": "New chat", "Ctrl+O": "Open…", "Ctrl+F": "Find chats",
        "Ctrl+M": "Choose or download models…", "Ctrl+,": "Settings…",
        "Esc": "Stop the answer", "Ctrl+Q": "Quit",
    }  # fmt: skip
    # One QAction per key: no second action anywhere in the window on the same shortcut.
    keys = [
        k.toString() for a in window.findChildren(QAction) for k in a.shortcuts() if not k.isEmpty()
    ]
    assert len(keys) == len(set(keys)), sorted(keys)


def test_app_menu_roles_for_macos(make_window) -> None:
    window = make_window()
    role = QAction.MenuRole
    roles = {
        t: window.menus.action(m, t).menuRole()
        for m, items in MENUS.items()
        for t in items
        if t != "Theme"
    }
    special = {"Settings…": role.PreferencesRole, "About Folio": role.AboutRole,
               "Quit": role.QuitRole}  # fmt: skip
    assert roles == {t: special.get(t, role.NoRole) for t in roles}


def test_file_open_asks_for_documents_and_attaches_them(
    make_window, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = make_window()
    doc = tmp_path / "notes.txt"
    doc.write_text("The fee is 40 euros.", encoding="utf-8")
    asked: list[str] = []
    added: list[list[str]] = []
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileNames",
        lambda parent, caption, *a: asked.append(caption) or ([str(doc)], ""),
    )
    monkeypatch.setattr(window.controller, "add_files", lambda p, *a: added.append(list(p)))
    _trigger(window, "File", "Open…")
    assert asked == ["Attach documents"] and added == [[str(doc)]]


def test_file_export_writes_the_whole_chat(qtbot, make_window, monkeypatch, tmp_path) -> None:
    window = make_window()
    for question in ("What is the fee?", "And the deadline?"):
        window.controller.send(question)
        qtbot.waitUntil(lambda: not window.controller.answering, timeout=10_000)
    target = tmp_path / "chat.md"
    asked: list[str] = []
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda parent, caption, *a: asked.append(caption) or (str(target), ""),
    )
    _trigger(window, "File", "Export chat…")
    assert asked == ["Export chat"]
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Folio conversation\n")
    assert "## What is the fee?" in text and "## And the deadline?" in text
    assert "Answer to: And the deadline?" in text
    assert window.statusBar().currentMessage() == f"Exported to {target}"


def test_export_of_an_empty_chat_says_so(make_window, monkeypatch) -> None:
    window = make_window()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: pytest.fail("asked"))
    _trigger(window, "File", "Export chat…")
    assert window.statusBar().currentMessage() == "This chat has no answers to export yet."


def test_models_and_settings_open_their_dialogs(qtbot, make_window, monkeypatch) -> None:
    from desktop_app.ui.dialogs.settings_dialog import SettingsDialog

    window = make_window()
    _trigger(window, "Model", "Choose or download models…")
    (models,) = _top_level("Models")
    assert models.page.summary.text().startswith("This computer: ")
    models.close()

    seen: list[str] = []

    def run(dialog: SettingsDialog) -> int:
        seen.append(dialog.windowTitle())
        return SettingsDialog.DialogCode.Rejected

    monkeypatch.setattr(SettingsDialog, "exec", run)
    _trigger(window, "Model", "Settings…")
    assert seen == ["Settings"]


def test_help_about_and_system_report(qtbot, make_window, monkeypatch) -> None:
    from desktop_app.ui.dialogs import system_page

    window = make_window()
    _trigger(window, "Help", "About Folio")
    (about,) = _top_level("About Folio")
    assert about.text().startswith(f"Folio {__version__}\n")
    about.close()

    monkeypatch.setattr(system_page, "system_report", lambda: {"cpu": "Test CPU"})
    monkeypatch.setattr(system_page, "format_report", lambda report: f"CPU: {report['cpu']}")
    _trigger(window, "Help", "System report")
    (report,) = _top_level("System report")
    qtbot.waitUntil(lambda: report.page.text.toPlainText() == "CPU: Test CPU")
    report.page.copy_text.click()
    assert QApplication.clipboard().text() == "CPU: Test CPU"
    report.close()


def test_help_opens_the_log_folder(make_window, monkeypatch) -> None:
    window = make_window()
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    _trigger(window, "Help", "Open log folder")
    assert [u.toLocalFile() for u in opened] == [str(paths.log_dir())]
    assert paths.log_dir().is_dir()


def test_view_theme_applies_and_is_saved(make_window) -> None:
    window = make_window()
    try:
        _trigger(window, "Theme", "Dark")
        assert settings_mod.load().theme == "dark"
        assert QApplication.palette().color(QPalette.ColorRole.Window).name() == "#2b2b2b"
        window.menus.menus["View"].aboutToShow.emit()
        assert window.menus.action("Theme", "Dark").isChecked()
        assert not window.menus.action("Theme", "System").isChecked()
    finally:
        apply_theme(QApplication.instance(), "system")  # the palette is app-wide


def test_settings_dialog_shows_the_theme_chosen_in_the_menu(make_window, monkeypatch) -> None:
    from desktop_app.ui.dialogs.settings_dialog import SettingsDialog

    window = make_window()
    shown: list[str] = []
    monkeypatch.setattr(SettingsDialog, "exec",
                        lambda d: shown.append(d.result_settings().theme) or 0)  # fmt: skip
    try:
        _trigger(window, "Theme", "Light")
        _trigger(window, "Model", "Settings…")
    finally:
        apply_theme(QApplication.instance(), "system")
    assert shown == ["light"]


def test_source_pane_item_is_off_until_a_page_was_cited(make_window) -> None:
    window = make_window()
    window.menus.menus["View"].aboutToShow.emit()
    item = window.menus.action("View", "Source pane")
    assert not item.isEnabled() and not item.isChecked()


def test_edit_menu_acts_on_the_focused_text_field(qtbot, make_window) -> None:
    window = _shown(qtbot, make_window())
    field = window.sidebar.search
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field)
    field.setText("contract")
    _trigger(window, "Edit", "Select All")
    _trigger(window, "Edit", "Copy")
    assert QApplication.clipboard().text() == "contract"
    _trigger(window, "Edit", "Cut")
    assert field.text() == ""
    _trigger(window, "Edit", "Undo")
    assert field.text() == "contract"


def test_shortcuts_reach_the_menu_after_a_dialog_closed(qtbot, make_window) -> None:
    window = _shown(qtbot, make_window())
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(_top_level("Models")) == 1)
    (models,) = _top_level("Models")
    models.close()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.sidebar.search)


def test_quit_closes_the_window_saying_closing(qtbot, make_window) -> None:
    window = _shown(qtbot, make_window())
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    _trigger(window, "File", "Quit")
    assert not window.isVisible()
    assert messages[0] == "Closing…"
