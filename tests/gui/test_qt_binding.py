"""The installed PySide6 keeps Python's reference counts straight.

PySide6 6.12.0 returned None and True to Python without taking a reference: every
`setText`, `processEvents` or `emit` dropped one reference to None or True, and once their
counts reached zero the interpreter aborted ("deallocating None"). Folio calls these
thousands of times a minute (streamed tokens, progress), so that release aborts the app;
pyproject.toml excludes it, and this test fails on any release that brings the bug back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

CALLS = 200


class _Emitter(QObject):
    value = Signal(object)


def test_void_calls_keep_none_alive(qapp) -> None:
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        label.setText("x")
        qapp.processEvents()
    assert before - sys.getrefcount(None) < CALLS // 2  # 6.12.0: exactly 2 * CALLS


def test_emit_keeps_true_alive(qapp) -> None:
    emitter = _Emitter()
    emitter.value.connect(lambda _v: None)
    before = sys.getrefcount(True)
    for _ in range(CALLS):
        emitter.value.emit(None)
    assert before - sys.getrefcount(True) < CALLS // 2  # 6.12.0: exactly CALLS
