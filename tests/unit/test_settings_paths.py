import json
from pathlib import Path

from desktop_app import atomic, paths, settings


def test_folio_home_redirects_everything(folio_home: Path):
    for folder in (paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()):
        assert folder.is_dir()
        assert folio_home in folder.parents


def test_settings_round_trip(folio_home: Path):
    s = settings.Settings(
        model_path="/models/x.gguf", n_ctx=16384, thinking=True, sampling={"temperature": 0.2}
    )
    settings.save(s)
    assert settings.load() == s
    assert settings.settings_path().parent == paths.config_dir()


def test_missing_settings_give_defaults():
    assert settings.load() == settings.Settings()


def test_corrupt_settings_are_kept_aside_not_fatal():
    path = settings.settings_path()
    path.write_text("{not json", encoding="utf-8")
    assert settings.load() == settings.Settings()
    assert path.with_name("settings.json.bad").read_text(encoding="utf-8") == "{not json"


def test_wrong_types_fall_back_per_field():
    settings.settings_path().write_text(
        json.dumps({"n_ctx": "big", "thinking": True, "gpu_layers": None, "unknown": 1}),
        encoding="utf-8",
    )
    s = settings.load()
    assert s.n_ctx is None and s.thinking is True and s.gpu_layers is None


def test_atomic_write_leaves_no_temp_files(tmp_path: Path):
    target = tmp_path / "a" / "b.json"
    atomic.write_json(target, {"x": 1})
    atomic.write_json(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_an_unedited_old_default_prompt_becomes_the_new_default_and_an_edited_one_stays():
    old = settings.PREVIOUS_SYSTEM_PROMPTS[0]
    settings.save(settings.Settings(system_prompt=old, n_ctx=8192))
    loaded = settings.load()
    assert loaded.system_prompt == settings.DEFAULT_SYSTEM_PROMPT and loaded.n_ctx == 8192
    assert '[Page 3: "the exact words"]' in loaded.system_prompt
    settings.save(settings.Settings(system_prompt=old + " Answer in French."))
    assert settings.load().system_prompt == old + " Answer in French."
