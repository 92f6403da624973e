"""Light, dark or the desktop's own look for the whole application.

Platform styles (Windows, macOS, some Linux themes) ignore or only partly honour
a custom palette, so the explicit themes switch to Fusion, which draws every
widget from the palette. "system" must undo that completely, which is why the
platform's original style and palette are remembered on the first call, before
anything has changed them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

# Normal-state colours per theme; every role Fusion reads is set so that nothing
# falls back to the platform palette and clashes (e.g. a white tooltip in dark mode).
_COLORS: dict[str, dict[QPalette.ColorRole, str]] = {
    "light": {
        _Role.Window: "#efefef",
        _Role.WindowText: "#1e1e1e",
        _Role.Base: "#ffffff",
        _Role.AlternateBase: "#f5f5f5",
        _Role.Text: "#1e1e1e",
        _Role.Button: "#efefef",
        _Role.ButtonText: "#1e1e1e",
        _Role.BrightText: "#ffffff",
        _Role.Highlight: "#2f6fd0",
        _Role.HighlightedText: "#ffffff",
        _Role.ToolTipBase: "#ffffdc",
        _Role.ToolTipText: "#1e1e1e",
        _Role.PlaceholderText: "#7f7f7f",
        _Role.Link: "#1a5fb4",
        _Role.LinkVisited: "#6a3fa0",
        _Role.Light: "#ffffff",
        _Role.Midlight: "#e3e3e3",
        _Role.Mid: "#b8b8b8",
        _Role.Dark: "#9f9f9f",
        _Role.Shadow: "#767676",
    },
    "dark": {
        _Role.Window: "#2b2b2b",
        _Role.WindowText: "#e6e6e6",
        _Role.Base: "#1e1e1e",
        _Role.AlternateBase: "#262626",
        _Role.Text: "#e6e6e6",
        _Role.Button: "#353535",
        _Role.ButtonText: "#e6e6e6",
        _Role.BrightText: "#ffffff",
        _Role.Highlight: "#3d7fd9",
        _Role.HighlightedText: "#ffffff",
        _Role.ToolTipBase: "#3a3a3a",
        _Role.ToolTipText: "#e6e6e6",
        _Role.PlaceholderText: "#8c8c8c",
        _Role.Link: "#6cb4ff",
        _Role.LinkVisited: "#b39ddb",
        _Role.Light: "#505050",
        _Role.Midlight: "#404040",
        _Role.Mid: "#262626",
        _Role.Dark: "#1a1a1a",
        _Role.Shadow: "#000000",
    },
}

# Disabled widgets must look inactive: dimmed text and a muted selection.
_DISABLED: dict[str, dict[QPalette.ColorRole, str]] = {
    "light": {
        _Role.WindowText: "#a0a0a0",
        _Role.Text: "#a0a0a0",
        _Role.ButtonText: "#a0a0a0",
        _Role.Highlight: "#c8c8c8",
        _Role.HighlightedText: "#7a7a7a",
        _Role.Base: "#f4f4f4",
        _Role.PlaceholderText: "#b8b8b8",
    },
    "dark": {
        _Role.WindowText: "#7a7a7a",
        _Role.Text: "#7a7a7a",
        _Role.ButtonText: "#7a7a7a",
        _Role.Highlight: "#4a4a4a",
        _Role.HighlightedText: "#a0a0a0",
        _Role.Base: "#262626",
        _Role.PlaceholderText: "#5f5f5f",
    },
}

_SCHEMES = {"light": "Light", "dark": "Dark"}

_original: tuple[str, QPalette] | None = None


def _palette(theme: str) -> QPalette:
    palette = QPalette()
    for role, color in _COLORS[theme].items():
        palette.setColor(role, QColor(color))  # all groups
    for role, color in _DISABLED[theme].items():
        palette.setColor(_Group.Disabled, role, QColor(color))
    return palette


def _set_color_scheme(app: QApplication, theme: str) -> None:
    """Tell Qt ≥ 6.8 the scheme too, so native parts (title bars, dialogs) match."""
    hints = app.styleHints()
    if theme in _SCHEMES and hasattr(hints, "setColorScheme"):
        hints.setColorScheme(getattr(Qt.ColorScheme, _SCHEMES[theme]))
    elif theme not in _SCHEMES and hasattr(hints, "unsetColorScheme"):
        hints.unsetColorScheme()


def apply_theme(app: QApplication, theme: str) -> None:
    """Apply "system", "light" or "dark" (anything else is treated as "system").

    Unknown values come from hand-edited settings files and must not break startup.
    """
    global _original
    if _original is None:
        _original = (app.style().name(), QPalette(app.palette()))
    _set_color_scheme(app, theme)
    if theme in _COLORS:
        app.setStyle("Fusion")
        app.setPalette(_palette(theme))
    else:
        style, palette = _original
        app.setStyle(style)
        app.setPalette(palette)
