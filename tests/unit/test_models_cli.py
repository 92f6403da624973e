"""`folio models`: the catalog with verdicts, discovered files, and choosing a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import settings
from desktop_app.core.models import catalog as models_catalog
from desktop_app.core.models import hf_cache
from tests.fixtures import hub_server
from tests.fixtures.hub_server import HubState
from tests.support import run_folio

# The shared hub fixtures, bound here so pytest finds them for this module.
hub = hub_server.hub
source = hub_server.source


def test_list_json_has_catalog_verdicts(folio_home: Path):
    out = run_folio("models", "list", "--json", home=folio_home)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    names = [c["name"] for c in record["catalog"]]
    assert names == ["Qwen3.5-9B", "Qwen3.5-4B", "Qwen3.5-2B", "Qwen3.5-0.8B"]
    assert record["recommended"] in names
    assert all(
        c["where"] in ("gpu", "partial", "cpu", "none") and c["reason"] for c in record["catalog"]
    )
    assert isinstance(record["discovered"], list)


def test_use_a_file_configures_it(folio_home: Path, smollm2_gguf: Path):
    out = run_folio("models", "use", str(smollm2_gguf), home=folio_home)
    assert out.returncode == 0, out.stderr
    assert settings.load().model_path == str(smollm2_gguf.resolve())


def test_use_refuses_unknown_and_missing(folio_home: Path, tmp_path: Path):
    out = run_folio("models", "use", "Qwen9000", home=folio_home)
    assert out.returncode == 2 and "Unknown model" in out.stderr
    out = run_folio("models", "use", "Qwen3.5-0.8B", home=folio_home)
    assert out.returncode == 2 and "not downloaded yet" in out.stderr
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model")
    out = run_folio("models", "use", str(bad), home=folio_home)
    assert out.returncode == 2 and "broken.gguf" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_download_resumes_then_use_and_list_find_it_in_the_hub_cache(
    folio_home: Path, hub: HubState, source: bytes, monkeypatch: pytest.MonkeyPatch
):
    entry = next(e for e in models_catalog.CATALOG if e.name == "Qwen3.5-0.8B")
    hub.repo, hub.file = entry.repo_id, entry.filename  # the hub serves the tiny GGUF as it
    hub.cut_after = len(source) // 2
    monkeypatch.setenv("HF_ENDPOINT", hub.hub_url)  # read at import by the child process

    out = run_folio("models", "download", "Qwen3.5-0.8B", home=folio_home)
    assert out.returncode == 2 and "connection was lost" in out.stderr.splitlines()[-1]
    listing = json.loads(run_folio("models", "list", "--json", home=folio_home).stdout)
    row = next(c for c in listing["catalog"] if c["name"] == "Qwen3.5-0.8B")
    assert row["downloaded"] is None and 0 < row["partial_bytes"] < len(source)

    out = run_folio("models", "download", "Qwen3.5-0.8B", home=folio_home)
    assert out.returncode == 0, out.stderr
    assert hub.ranges[-1] == f"bytes={row['partial_bytes']}-"
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.read_bytes() == source
    assert path.is_relative_to(hf_cache.hub_cache_dir())

    out = run_folio("models", "use", "Qwen3.5-0.8B", home=folio_home)
    assert out.returncode == 0, out.stderr
    assert settings.load().model_path == str(path)
    listing = json.loads(run_folio("models", "list", "--json", home=folio_home).stdout)
    row = next(c for c in listing["catalog"] if c["name"] == "Qwen3.5-0.8B")
    assert row["downloaded"] == str(path) and row["partial_bytes"] is None
