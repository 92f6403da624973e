"""The small form pieces every Settings tab uses: spin boxes, rows, dimmed hints, red text,
and the watch that tells the dialog a tab changed (for its "reloads the model" hint)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


def spin(minimum: int, maximum: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setSuffix(suffix)
    box.setValue(value)
    return box


def double_spin(
    low: float, high: float, step: float, decimals: int, suffix: str = ""
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    return box


def row(*widgets: QWidget, stretch: bool = True, vertical: bool = False) -> QWidget:
    """Widgets side by side at their natural width, or a field stacked over its hint
    (a hint in a form row of its own gets large gaps around it once it wraps)."""
    holder = QWidget()
    layout = QVBoxLayout(holder) if vertical else QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    if stretch and not vertical:
        layout.addStretch(1)
    return holder


def hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setEnabled(False)  # the palette's dimmed text, readable in every theme
    return label


def tint(label: QLabel, error: bool) -> None:
    """Red for errors, in a shade that stays readable on light and dark backgrounds."""
    dark = label.palette().window().color().lightness() < 128
    label.setStyleSheet(f"color: {'#ef7b7b' if dark else '#b3261e'};" if error else "")


def watch(page: QWidget, changed: Callable[[], None]) -> None:
    """Call `changed` (with no arguments) whenever an editor on `page` changes."""
    notify = lambda *_: changed()  # noqa: E731 (the editors' signals carry the new value)
    for box in page.findChildren(QSpinBox) + page.findChildren(QDoubleSpinBox):
        box.valueChanged.connect(notify)
    for combo in page.findChildren(QComboBox):
        combo.currentIndexChanged.connect(notify)
    for check in page.findChildren(QCheckBox):
        check.toggled.connect(notify)
    for edit in page.findChildren(QPlainTextEdit):
        edit.textChanged.connect(notify)
    # Spin boxes hold line edits too: only the tab's own line edits are watched.
    for line in page.findChildren(QLineEdit):
        if not isinstance(line.parent(), QSpinBox | QDoubleSpinBox | QComboBox):
            line.textChanged.connect(notify)
