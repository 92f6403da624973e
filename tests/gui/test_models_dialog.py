"""The Models page and dialog: recommendation, models on disk, downloads against a local hub."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.core import hardware
from desktop_app.core.models import catalog as models_catalog
from desktop_app.core.models import hf_cache
from desktop_app.core.models.discovery import Discovered
from desktop_app.core.models.locator import DEMO_MODEL_LABEL, demo_model_path
from desktop_app.settings import Settings
from desktop_app.ui import model_scan
from desktop_app.ui.dialogs.models_dialog import ModelsDialog
from desktop_app.ui.dialogs.settings_dialog import SettingsDialog
from desktop_app.ui.download_manager import DownloadManager
from tests.fixtures import hub_server
from tests.fixtures.gguf_factory import write_minimal
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
def managers(qtbot, hub: HubState, served_catalog: None) -> Iterator:
    """Makes download managers (one per simulated app run) and stops their threads after."""
    made: list[DownloadManager] = []

    def make() -> DownloadManager:
        made.append(DownloadManager(endpoint=hub.hub_url))
        return made[-1]

    yield make
    for manager in made:  # no download thread may outlive its hub server
        for job in manager.jobs():
            manager.cancel(job.entry.name)
        qtbot.waitUntil(lambda m=manager: not any(j.busy for j in m.jobs()), timeout=5000)


@pytest.fixture
def open_dialog(qtbot, hw: hardware.Hardware) -> Iterator:
    kept: list[ModelsDialog] = []  # the tests hold rows, not dialogs: keep them alive

    def make(manager: DownloadManager) -> ModelsDialog:
        d = ModelsDialog(manager, hardware=hw, discovered=[])
        qtbot.addWidget(d)
        kept.append(d)
        return d

    yield make


def _part(source: bytes) -> Path:
    cache = hf_cache.hub_cache_dir()
    return hf_cache.incomplete_path(cache, REPO, hashlib.sha256(source).hexdigest())


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


def _tiny() -> models_catalog.CatalogEntry:
    return next(e for e in models_catalog.CATALOG if e.name == TINY)


def _window(qtbot, manager: DownloadManager):
    """The main window on a fake model, with `manager` as its downloads."""
    from desktop_app.core.history.store import Store
    from desktop_app.ui.main_window import MainWindow
    from tests.fixtures.fake_host import FakeHost

    window = MainWindow(Store(), FakeHost(), downloads=manager)
    qtbot.addWidget(window)
    return window


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_recommendation_is_shown_and_marked(qtbot, hw: hardware.Hardware) -> None:
    d = ModelsDialog(DownloadManager(), hardware=hw, discovered=[])
    qtbot.addWidget(d)
    pick, fits = models_catalog.recommend(hw)

    assert hw.summary() in d.page.summary.text()
    assert list(d.page.catalog_rows) == [f.entry.name for f in fits]
    for name, row in d.page.catalog_rows.items():
        assert row.recommended.isVisibleTo(d) == (name == pick.entry.name)
        assert row.download_button.text() == "Download" and row.progress.isHidden()
    assert d.page.catalog_rows[pick.entry.name].reason.text() == pick.reason


def test_discovered_models_are_listed_and_use_emits_the_path(qtbot, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.gguf", tmp_path / "bad.gguf"
    d = ModelsDialog(DownloadManager(), discovered=[_found(good, True), _found(bad, False)])
    qtbot.addWidget(d)

    found = [r for r in d.page.found_rows if not r.found.demo]
    assert [r.found.path for r in found] == [good, bad]
    usable, unusable = found
    assert not unusable.use_button.isEnabled()
    assert unusable.use_button.toolTip() == "Unknown architecture mamba."
    assert unusable.problem.isVisibleTo(d) and "mamba" in unusable.problem.text()
    assert not usable.problem.isVisibleTo(d)
    with qtbot.waitSignal(d.model_chosen, timeout=1000) as chosen:
        _click(qtbot, usable.use_button)
    assert chosen.args == [str(good)]


def test_discovery_runs_off_the_ui_thread_and_fills_the_list(
    qtbot, monkeypatch: pytest.MonkeyPatch, hw: hardware.Hardware, tmp_path: Path
) -> None:
    monkeypatch.setattr(model_scan, "discover", lambda: [_found(tmp_path / "a.gguf", True)])
    d = ModelsDialog(DownloadManager(), hardware=hw)
    qtbot.addWidget(d)
    qtbot.waitUntil(lambda: "a.gguf" in [r.found.name for r in d.page.found_rows], timeout=5000)
    assert d.page.found_status.isHidden()  # "Searching…" is gone


def test_download_shows_progress_lands_in_the_hub_cache_and_offers_use(
    qtbot, managers, open_dialog, source: bytes
) -> None:
    manager = managers()
    row = open_dialog(manager).page.catalog_rows[TINY]
    with qtbot.waitSignal(manager.downloaded, timeout=15000) as done:
        _click(qtbot, row.download_button)
        assert not row.progress.isHidden() and row.download_button.isHidden()

    path = hf_cache.cached_file(hf_cache.hub_cache_dir(), REPO, FILE)
    assert done.args == [TINY, str(path)] and path.read_bytes() == source
    assert row.download_button.text() == "Use" and row.progress.isHidden()
    with qtbot.waitSignal(row.use, timeout=1000) as used:
        _click(qtbot, row.download_button)
    assert used.args == [str(path)]


def test_pause_survives_a_restart_and_resume_completes(
    qtbot, managers, open_dialog, hub: HubState, source: bytes
) -> None:
    hub.delay_s = 0.01  # ~2 s for the whole file, so the pause lands mid-transfer
    manager = managers()
    row = open_dialog(manager).page.catalog_rows[TINY]
    _click(qtbot, row.download_button)
    qtbot.waitUntil(lambda: row.progress.value() > 0, timeout=5000)
    assert " / " in row.status.text() and "MB" in row.status.text()

    _click(qtbot, row.pause_button)
    qtbot.waitUntil(lambda: row.pause_button.text() == "Resume", timeout=5000)
    assert row.status.text().startswith("Paused at")
    kept = _part(source).stat().st_size
    assert 0 < kept < len(source)

    # A restarted app: a new manager and dialog find the paused download on disk.
    restarted = managers()
    row = open_dialog(restarted).page.catalog_rows[TINY]
    assert row.pause_button.text() == "Resume" and not row.progress.isHidden()
    assert row.progress.value() == int(kept / len(source) * 1000)
    assert row.status.text().startswith("Paused at")
    with qtbot.waitSignal(restarted.downloaded, timeout=15000):
        _click(qtbot, row.pause_button)
    assert hub.ranges[-1] == f"bytes={kept}-"
    path = hf_cache.cached_file(hf_cache.hub_cache_dir(), REPO, FILE)
    assert path.read_bytes() == source and not _part(source).exists()


def test_closing_the_dialog_keeps_the_download_and_a_new_one_shows_it(
    qtbot, managers, open_dialog, hub: HubState
) -> None:
    hub.delay_s = 0.01
    manager = managers()
    first = open_dialog(manager)
    _click(qtbot, first.page.catalog_rows[TINY].download_button)
    qtbot.waitUntil(lambda: first.page.catalog_rows[TINY].progress.value() > 0, timeout=5000)
    first.close()

    row = open_dialog(manager).page.catalog_rows[TINY]
    assert row.pause_button.text() == "Pause" and row.download_button.isHidden()
    seen = row.progress.value()
    qtbot.waitUntil(lambda: row.progress.value() > seen, timeout=5000)
    with qtbot.waitSignal(manager.downloaded, timeout=15000):
        pass
    assert len(hub.ranges) == 1  # one download, never a second one on the same file


def test_cancel_removes_the_part(
    qtbot, managers, open_dialog, hub: HubState, source: bytes
) -> None:
    hub.delay_s = 0.01
    row = open_dialog(managers()).page.catalog_rows[TINY]
    _click(qtbot, row.download_button)
    qtbot.waitUntil(lambda: row.progress.value() > 0, timeout=5000)

    _click(qtbot, row.cancel_button)
    qtbot.waitUntil(lambda: not row.download_button.isHidden(), timeout=5000)
    assert row.download_button.text() == "Download" and not _part(source).exists()


def test_download_error_is_shown_in_the_row_and_retry_works(
    qtbot, managers, open_dialog, hub: HubState
) -> None:
    hub.missing = True
    manager = managers()
    row = open_dialog(manager).page.catalog_rows[TINY]
    _click(qtbot, row.download_button)
    qtbot.waitUntil(lambda: "404" in row.status.text(), timeout=5000)
    assert row.pause_button.text() == "Resume" and row.pause_button.isEnabled()

    hub.missing = False
    with qtbot.waitSignal(manager.downloaded, timeout=15000):
        _click(qtbot, row.pause_button)


def test_a_gated_model_downloads_with_the_typed_token(
    qtbot, managers, open_dialog, hub: HubState
) -> None:
    hub.token = "hf_gated"
    manager = managers()
    page = open_dialog(manager).page
    row = page.catalog_rows[TINY]
    _click(qtbot, row.download_button)
    qtbot.waitUntil(lambda: "401" in row.status.text(), timeout=5000)
    assert "access token" in row.status.text()

    page.token_edit.setText(" hf_gated ")
    with qtbot.waitSignal(manager.downloaded, timeout=15000):
        _click(qtbot, row.pause_button)
    assert hub.hub_auth[-1] == "Bearer hf_gated" and set(hub.cdn_auth) == {None}


def test_settings_has_a_models_tab_that_fills_the_model_field(
    qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = tmp_path / "found.gguf"
    monkeypatch.setattr(model_scan, "discover", lambda: [_found(found, True)])
    dialog = SettingsDialog(Settings(), downloads=DownloadManager())
    qtbot.addWidget(dialog)
    page = dialog.models_page
    qtbot.waitUntil(lambda: found in [r.found.path for r in page.found_rows], timeout=5000)
    assert page.open_button.isHidden()  # Settings has its own Browse…

    (row,) = [r for r in page.found_rows if r.found.path == found]
    _click(qtbot, row.use_button)
    assert dialog.model_tab.model_edit.text() == str(found) and dialog.tabs.currentIndex() == 0
    assert dialog.result_settings().model_path == str(found)
    if demo_model_path() is not None:
        (demo,) = [r for r in page.found_rows if r.found.demo]
        _click(qtbot, demo.use_button)
        assert dialog.result_settings().model_path is None


def test_the_window_shows_a_running_download_and_switches_from_the_demo_when_done(
    qtbot, managers, hub: HubState, source: bytes
) -> None:
    hub.delay_s = 0.005
    manager = managers()
    window = _window(qtbot, manager)
    assert window.host.settings.model_path is None  # on the demo model
    entry = _tiny()

    with qtbot.waitSignal(manager.downloaded, timeout=15000):
        manager.start(entry)
        qtbot.waitUntil(lambda: "%" in window.download_label.text(), timeout=5000)
        assert (
            "Downloading" in window.download_label.text() and TINY in window.download_label.text()
        )
    path = hf_cache.cached_file(hf_cache.hub_cache_dir(), REPO, FILE)
    qtbot.waitUntil(lambda: window.host.model_path == path, timeout=5000)
    assert window.download_label.isHidden()
    assert "now uses it" in window.statusBar().currentMessage()
    window.close()


def test_closing_the_window_pauses_downloads_for_the_next_start(
    qtbot, managers, hub: HubState, source: bytes
) -> None:
    from desktop_app.core.models.pending_downloads import pending

    hub.delay_s = 0.01
    manager = managers()
    window = _window(qtbot, manager)
    entry = _tiny()
    manager.start(entry)
    qtbot.waitUntil(lambda: "%" in window.download_label.text(), timeout=5000)

    window.close()
    assert all(not j._thread or not j._thread.is_alive() for j in manager.jobs())
    left = pending(REPO, FILE)
    assert left is not None and 0 < left.done < len(source)
    assert managers().job(entry).state == "paused"  # what the next start shows


def test_cancel_wins_over_a_network_error_and_removes_the_part(
    qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from desktop_app.core.models.downloads import DownloadError
    from desktop_app.core.models.pending_downloads import pending, remember
    from desktop_app.ui import download_manager

    entry = models_catalog.CATALOG[-1]
    part = hf_cache.incomplete_path(hf_cache.hub_cache_dir(), entry.repo_id, "c" * 64)

    def stalled_then_failed(*args: object, cancel, **kwargs: object) -> Path:
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"some bytes")
        remember(entry.repo_id, entry.filename, "main", part, 100, "c" * 64)
        cancel.set()  # the user pressed Cancel while the link was stalled...
        raise DownloadError("The connection was lost while downloading the model.")  # ...then

    monkeypatch.setattr(download_manager, "download", stalled_then_failed)
    manager = DownloadManager()
    manager.start(entry)
    qtbot.waitUntil(lambda: not manager.job(entry).busy, timeout=5000)
    assert manager.job(entry).state == "idle"
    assert not part.exists() and pending(entry.repo_id, entry.filename) is None


def test_settings_knows_whether_the_model_field_was_edited(qtbot) -> None:
    dialog = SettingsDialog(Settings(model_path="/models/a.gguf"))
    qtbot.addWidget(dialog)
    assert not dialog.model_edited()
    dialog.model_tab.model_edit.setText("/models/b.gguf")
    assert dialog.model_edited()


def _rows(dialog: ModelsDialog) -> list[tuple[str, str, bool]]:
    """(name, button, bold) per listed model, as the user reads the list."""
    return [
        (r.found.name, r.use_button.text(), r.label.font().bold()) for r in dialog.page.found_rows
    ]


@pytest.mark.skipif(demo_model_path() is None, reason="the demo model is not installed")
def test_the_demo_model_is_listed_and_marked_in_use(qtbot, hw: hardware.Hardware) -> None:
    d = ModelsDialog(DownloadManager(), hardware=hw, discovered=[], in_use=demo_model_path())
    qtbot.addWidget(d)
    assert _rows(d) == [(DEMO_MODEL_LABEL, "In use", True)]
    assert d.page.found_status.isHidden()  # never "No models found." while one runs
    assert "ships with Folio" in d.page.found_rows[0].label.text()


def test_a_model_opened_by_path_is_listed_and_marked_in_use(
    qtbot, hw: hardware.Hardware, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    opened = write_minimal(tmp_path / "elsewhere" / "my-model.gguf", "llama")
    configured = write_minimal(tmp_path / "configured.gguf", "llama")
    d = ModelsDialog(DownloadManager(), hardware=hw, discovered=[], in_use=opened,
                     opened=[configured])  # fmt: skip
    qtbot.addWidget(d)
    mine = [row for row in _rows(d) if row[0] != DEMO_MODEL_LABEL]
    assert mine == [("my-model.gguf", "In use", True), ("configured.gguf", "Use", False)]
    (row,) = [r for r in d.page.found_rows if r.found.name == "my-model.gguf"]
    assert not row.use_button.isEnabled()
    assert row.label.text().endswith("· opened from a file")
    assert row.label.toolTip() == str(opened)


def test_the_window_marks_the_model_it_runs_and_lists_the_configured_one(
    qtbot, hw: hardware.Hardware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app import settings as settings_mod

    monkeypatch.setattr(model_scan, "discover", lambda: [])
    monkeypatch.setattr(hardware, "detect", lambda: hw)
    running = write_minimal(tmp_path / "running.gguf", "llama")
    window = _window(qtbot, DownloadManager())
    window.host.model_path = running  # what the engine thread sets when a model loaded
    settings_mod.save(Settings(model_path=str(running)))
    dialog = window.open_models()
    qtbot.waitUntil(lambda: dialog.page.found_status.isHidden(), timeout=5000)
    assert [row for row in _rows(dialog) if row[0] != DEMO_MODEL_LABEL] == [
        ("running.gguf", "In use", True)
    ]
    dialog.close()
    window.close()
