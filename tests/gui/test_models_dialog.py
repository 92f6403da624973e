"""The Models dialog: recommendation, models on disk, and downloads against a local hub."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app import paths
from desktop_app.core import hardware, models_catalog
from desktop_app.core.downloads import partial_path
from desktop_app.core.model_discovery import Discovered
from desktop_app.ui.dialogs import models_dialog
from desktop_app.ui.dialogs.models_dialog import ModelsDialog
from tests.fixtures import hub_server
from tests.fixtures.hub_server import FILE, REPO, HubState

# The shared hub fixtures, bound here so pytest finds them for this module.
hub = hub_server.hub
source = hub_server.source

GiB = 1 << 30
TINY = "Qwen3.5-0.8B"


@pytest.fixture
def hw() -> hardware.Hardware:
    """A CPU-only machine with 64 GiB free, so the result does not depend on the test box."""
    return dataclasses.replace(
        hardware.detect(),
        ram_total_bytes=64 * GiB,
        ram_available_bytes=64 * GiB,
        gpu_offload=False,
        gpus=(),
    )


@pytest.fixture
def served_catalog(monkeypatch: pytest.MonkeyPatch, source: bytes) -> None:
    """Point the smallest catalog entry at the tiny GGUF the local hub serves."""
    catalog = tuple(
        dataclasses.replace(e, repo_id=REPO, filename=FILE, size_bytes=len(source))
        if e.name == TINY
        else e
        for e in models_catalog.CATALOG
    )
    monkeypatch.setattr(models_catalog, "CATALOG", catalog)


@pytest.fixture
def dialog(qtbot, hw: hardware.Hardware, hub: HubState, served_catalog: None) -> Iterator:
    d = ModelsDialog(hardware=hw, discovered=[], endpoint=hub.hub_url)
    qtbot.addWidget(d)
    yield d
    for row in d.catalog_rows.values():  # no download thread may outlive its hub server
        row._cancel.set()
        qtbot.waitUntil(lambda row=row: not row._running, timeout=5000)


def _found(path: Path, usable: bool) -> Discovered:
    return Discovered(
        path=path,
        name=path.name,
        architecture="qwen35" if usable else "mamba",
        size_bytes=1_000_000,
        quantization="Q4_K_M",
        source="lmstudio",
        usable=usable,
        problem=None if usable else "Unknown architecture mamba.",
    )


def test_recommendation_is_shown_and_marked(qtbot, hw: hardware.Hardware) -> None:
    d = ModelsDialog(hardware=hw, discovered=[])
    qtbot.addWidget(d)
    pick, fits = models_catalog.recommend(hw)

    assert hw.summary() in d.summary.text()
    assert list(d.catalog_rows) == [f.entry.name for f in fits]
    for name, row in d.catalog_rows.items():
        assert row.recommended.isVisibleTo(d) == (name == pick.entry.name)
        assert not row.download_button.isHidden()
    assert d.catalog_rows[pick.entry.name].reason.text() == pick.reason


def test_discovered_models_are_listed_and_use_emits_the_path(qtbot, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.gguf", tmp_path / "bad.gguf"
    d = ModelsDialog(discovered=[_found(good, True), _found(bad, False)])
    qtbot.addWidget(d)

    assert [r.found.path for r in d.found_rows] == [good, bad]
    usable, unusable = d.found_rows
    assert not unusable.use_button.isEnabled()
    assert unusable.use_button.toolTip() == "Unknown architecture mamba."
    with qtbot.waitSignal(d.model_chosen, timeout=1000) as chosen:
        qtbot.mouseClick(usable.use_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [str(good)]


def test_discovery_runs_off_the_ui_thread_and_fills_the_list(
    qtbot, monkeypatch: pytest.MonkeyPatch, hw: hardware.Hardware, tmp_path: Path
) -> None:
    monkeypatch.setattr(models_dialog, "discover", lambda: [_found(tmp_path / "a.gguf", True)])
    d = ModelsDialog(hardware=hw)
    qtbot.addWidget(d)
    qtbot.waitUntil(lambda: len(d.found_rows) == 1, timeout=5000)


def test_download_shows_progress_and_chooses_the_file(
    qtbot, dialog: ModelsDialog, source: bytes
) -> None:
    row = dialog.catalog_rows[TINY]
    with qtbot.waitSignal(dialog.model_chosen, timeout=15000) as chosen:
        qtbot.mouseClick(row.download_button, Qt.MouseButton.LeftButton)
        assert not row.progress.isHidden()

    final = paths.models_dir() / FILE
    assert chosen.args == [str(final)]
    assert final.read_bytes() == source
    assert row.progress.value() == row.progress.maximum()


def test_pause_keeps_the_part_and_resume_completes(
    qtbot, dialog: ModelsDialog, hub: HubState, source: bytes
) -> None:
    hub.delay_s = 0.01  # ~2 s for the whole file, so the pause lands mid-transfer
    row = dialog.catalog_rows[TINY]
    part = partial_path(paths.models_dir(), FILE)
    qtbot.mouseClick(row.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.progress.value() > 0, timeout=5000)
    assert " / " in row.status.text() and "MB" in row.status.text()

    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.pause_button.text() == "Resume", timeout=5000)
    assert row.status.text().startswith("Paused")
    assert 0 < part.stat().st_size < len(source)

    with qtbot.waitSignal(dialog.model_chosen, timeout=15000):
        qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    assert hub.ranges[-1] is not None and hub.ranges[-1].startswith("bytes=")
    assert (paths.models_dir() / FILE).read_bytes() == source
    assert not part.exists()


def test_cancel_removes_the_part(qtbot, dialog: ModelsDialog, hub: HubState) -> None:
    hub.delay_s = 0.01
    row = dialog.catalog_rows[TINY]
    qtbot.mouseClick(row.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.progress.value() > 0, timeout=5000)

    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not row.download_button.isHidden(), timeout=5000)
    assert not any(paths.models_dir().glob(f"{FILE}*"))


def test_download_error_is_shown_in_the_row(qtbot, dialog: ModelsDialog, hub: HubState) -> None:
    hub.missing = True
    row = dialog.catalog_rows[TINY]
    qtbot.mouseClick(row.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "404" in row.status.text(), timeout=5000)
    assert row.pause_button.text() == "Resume"
