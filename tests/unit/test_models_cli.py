"""`folio models`: the catalog with verdicts, discovered files, and choosing a model."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app import settings
from tests.support import run_folio


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
