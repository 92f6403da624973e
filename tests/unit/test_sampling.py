import pytest

from desktop_app.core.llm.sampling import (
    GENERIC,
    QWEN35_INSTRUCT,
    QWEN35_THINKING,
    preset_for,
)
from desktop_app.errors import SettingsError


def test_qwen35_presets_follow_the_model_card():
    assert preset_for("qwen35", thinking=True) == QWEN35_THINKING
    assert preset_for("qwen35", thinking=False) == QWEN35_INSTRUCT
    assert QWEN35_THINKING.temperature == 1.0 and QWEN35_THINKING.top_p == 0.95
    assert QWEN35_INSTRUCT.temperature == 0.7 and QWEN35_INSTRUCT.top_p == 0.8
    assert QWEN35_INSTRUCT.top_k == 20 and QWEN35_INSTRUCT.min_p == 0.0


def test_other_models_get_generic_preset():
    assert preset_for("llama", thinking=True) == GENERIC


def test_overrides_are_typed_and_unknown_keys_ignored():
    p = QWEN35_INSTRUCT.with_overrides({"temperature": 0, "top_k": 5.0, "bogus": 1})
    assert p.temperature == 0.0 and isinstance(p.temperature, float)
    assert p.top_k == 5 and isinstance(p.top_k, int)
    assert p.top_p == QWEN35_INSTRUCT.top_p


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"temperature": "warm"}, "temperature must be a number, not 'warm'"),
        ({"top_p": 1.5}, "top_p must be between 0.0 and 1.0, not 1.5"),
        ({"top_k": -3}, "top_k must be at least 0, not -3"),
        ({"min_p": True}, "min_p must be a number"),
    ],
)
def test_bad_overrides_name_the_setting(overrides, message):
    with pytest.raises(SettingsError, match=message):
        GENERIC.with_overrides(overrides)
