"""The window's menu bar: every command reachable with the mouse, each with its one shortcut.

File, Edit, View, Model, Help, as desktop applications have them. Each command is one QAction
that lives in its menu, so its shortcut is registered once and shows beside its name. On
macOS, Settings…, About and Quit carry their menu roles and move to the application menu;
every other action says NoRole, so Qt's guessing by text never moves one there.

The menu knows nothing of the window: it is given the commands (`Commands`) and the state
it shows (theme, local API, source pane), read each time a menu opens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

Role = QAction.MenuRole
Keys = QKeySequence | QKeySequence.StandardKey | list[QKeySequence] | str

THEMES = (("system", "System"), ("light", "Light"), ("dark", "Dark"))
#: Edit commands, sent to whatever text widget has the keyboard focus: (label, keys, method).
EDIT = (
    ("Undo", QKeySequence.StandardKey.Undo, "undo"),
    ("Redo", QKeySequence.StandardKey.Redo, "redo"),
    (None, None, None),
    ("Cut", QKeySequence.StandardKey.Cut, "cut"),
    ("Copy", QKeySequence.StandardKey.Copy, "copy"),
    ("Paste", QKeySequence.StandardKey.Paste, "paste"),
    ("Select All", QKeySequence.StandardKey.SelectAll, "selectAll"),
)


@dataclass(frozen=True)
class Commands:
    """What the menus do, and the state they show; the window fills it in."""

    new_chat: Callable[[], object]
    open_documents: Callable[[], object]
    export_chat: Callable[[], object]
    quit: Callable[[], object]
    find_chats: Callable[[], object]
    stop: Callable[[], object]
    show_source: Callable[[bool], object]
    source_state: Callable[[], tuple[bool, bool]]  # (can be shown, is shown)
    set_theme: Callable[[str], object]
    theme: Callable[[], str]
    models: Callable[[], object]
    settings: Callable[[], object]
    set_api: Callable[[bool], object]
    api_on: Callable[[], bool]
    about: Callable[[], object]
    system_report: Callable[[], object]
    log_folder: Callable[[], object]


class MenuBar:
    """Builds the menus into `window.menuBar()`; `action(menu, text)` finds one by its text."""

    def __init__(self, window: QMainWindow, commands: Commands) -> None:
        self._window = window
        self._do = do = commands
        bar = window.menuBar()
        self.menus: dict[str, QMenu] = {}

        file = self._menu("&File")
        self._add(file, "New chat", do.new_chat, QKeySequence.StandardKey.New)
        self._add(file, "Open…", do.open_documents, QKeySequence.StandardKey.Open,
                  tip="Attach documents to this chat")  # fmt: skip
        self._add(file, "Export chat…", do.export_chat, tip="Save this chat as Markdown")
        file.addSeparator()
        # Windows (and Qt without a desktop theme) has no Quit key of its own: Ctrl+Q then.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
        self._add(file, "Quit", do.quit, quit_keys or "Ctrl+Q", role=Role.QuitRole)

        edit = self._menu("&Edit")
        self._edit_actions: list[tuple[QAction, str]] = []
        for text, keys, method in EDIT:
            if text is None:
                edit.addSeparator()
                continue
            action = self._add(edit, text, lambda m=method: _to_focused(m), keys)
            self._edit_actions.append((action, method))
        edit.addSeparator()
        self._add(edit, "Find chats", do.find_chats, QKeySequence.StandardKey.Find)
        edit.aboutToShow.connect(self._enable_edit)
        edit.aboutToHide.connect(self._enable_edit_keys)

        view = self._menu("&View")
        self.source_action = self._add(view, "Source pane", do.show_source, checkable=True,
                                       tip="The cited page beside the chat")  # fmt: skip
        theme = self._menu("&Theme", view)
        self._themes = QActionGroup(theme)
        for value, label in THEMES:
            action = self._add(theme, label, lambda _on, v=value: do.set_theme(v), checkable=True)
            action.setData(value)
            self._themes.addAction(action)
        view.aboutToShow.connect(self._show_view_state)

        model = self._menu("&Model")
        self._add(model, "Choose or download models…", do.models, "Ctrl+M")
        self._add(model, "Settings…", do.settings, "Ctrl+,", role=Role.PreferencesRole)
        model.addSeparator()
        self.api_action = self._add(
            model,
            "Local API",
            do.set_api,
            checkable=True,
            tip="Serve an OpenAI-compatible API on this computer",
        )
        model.addSeparator()
        self._add(model, "Stop the answer", do.stop, "Esc")
        model.aboutToShow.connect(lambda: self.api_action.setChecked(do.api_on()))

        help_ = self._menu("&Help")
        self._add(help_, "About Folio", do.about, role=Role.AboutRole)
        self._add(help_, "System report", do.system_report,
                  tip="What `folio system` prints: paste it into a bug report")  # fmt: skip
        self._add(help_, "Open log folder", do.log_folder)
        for menu in (file, edit, view, model, help_):
            bar.addMenu(menu)

    def action(self, menu: str, text: str) -> QAction:
        """The action `text` (as shown) of `menu` ("File", "Theme"…)."""
        for action in self.menus[menu].actions():
            if action.text() == text:
                return action
        raise KeyError(f"{menu} → {text}")

    def _menu(self, title: str, parent: QMenu | None = None) -> QMenu:
        """A menu, or a submenu of `parent`; every one is kept by its title for `action`."""
        menu = parent.addMenu(title) if parent is not None else QMenu(title, self._window)
        menu.setToolTipsVisible(True)
        self.menus[title.replace("&", "")] = menu
        return menu

    def _add(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        keys: Keys | None = None,
        *,
        role: QAction.MenuRole = Role.NoRole,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self._window, checkable=checkable)
        if isinstance(keys, QKeySequence.StandardKey | list):
            action.setShortcuts(keys)  # every binding of the platform (Redo: Ctrl+Y, Ctrl+⇧Z)
        elif keys is not None:
            action.setShortcut(QKeySequence(keys))
        action.setMenuRole(role)
        action.setToolTip(tip or text)
        if checkable:  # the slot takes the new state
            action.triggered.connect(slot)
        else:
            # Called without arguments: `triggered` would pass its `checked` flag on (once
            # taken by New chat for a list of files to attach).
            action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        # Also the window's: its shortcut then works with the menu bar hidden (full screen).
        self._window.addAction(action)
        return action

    def _enable_edit(self) -> None:
        """Only what the focused widget can do (no Paste into the read-only transcript)."""
        focused = QApplication.focusWidget()
        for action, method in self._edit_actions:
            action.setEnabled(_can(focused, method))

    def _enable_edit_keys(self) -> None:
        """With the menu closed the keys go to whichever widget has the focus then."""
        for action, _method in self._edit_actions:
            action.setEnabled(True)

    def _show_view_state(self) -> None:
        can_show, shown = self._do.source_state()
        self.source_action.setEnabled(can_show or shown)
        self.source_action.setChecked(shown)
        current = self._do.theme()
        for action in self._themes.actions():
            action.setChecked(action.data() == current)


def _can(widget: object, method: str) -> bool:
    if widget is None or not callable(getattr(widget, method, None)):
        return False
    read_only = getattr(widget, "isReadOnly", None)
    return not (callable(read_only) and read_only() and method in ("cut", "paste", "undo", "redo"))


def _to_focused(method: str) -> None:
    """Undo, Copy… on the text widget that has the focus (a menu does not take it)."""
    focused = QApplication.focusWidget()
    if _can(focused, method):
        getattr(focused, method)()
