"""The OCR language setting: a default from the user's locale, kept when valid, and a value
that is not a combination of bundled languages falls back like any other bad setting."""

from __future__ import annotations

import json

import pytest

from desktop_app import settings
from desktop_app.core.documents import ocr

_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture
def user_locale(monkeypatch: pytest.MonkeyPatch):
    """Sets the locale as a desktop session does (LANG only)."""

    def set_locale(value: str) -> None:
        for name in _LOCALE_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LANG", value)

    return set_locale


def test_the_settings_languages_are_the_bundled_ones() -> None:
    assert tuple(settings.OCR_LANGUAGE_OF.values()) == ocr.BUNDLED_LANGUAGES


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en_US.UTF-8", "eng"),
        ("en_GB", "eng"),
        ("fr_FR.UTF-8", "fra+eng"),
        ("fr_CA.UTF-8@euro", "fra+eng"),
        ("de_CH.UTF-8", "deu+eng"),
        ("es_MX.UTF-8", "spa+eng"),
        ("it_IT.UTF-8", "ita+eng"),
        ("nl_BE.UTF-8", "nld+eng"),
        ("French_France.1252", "fra+eng"),  # Windows' names
        ("pt_BR.UTF-8", "eng"),  # not bundled: English
        ("ja_JP.UTF-8", "eng"),
    ],
)
def test_default_follows_the_locale(user_locale, lang: str, expected: str) -> None:
    user_locale(lang)
    assert settings.Settings().ocr_languages == expected


def test_gettext_order_language_first_then_lc_all(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    assert settings.default_ocr_languages() == "deu+eng"
    monkeypatch.setenv("LANGUAGE", "nl:en")
    assert settings.default_ocr_languages() == "nld+eng"
    monkeypatch.setenv("LANGUAGE", "")  # empty says nothing; C neither
    monkeypatch.setenv("LC_ALL", "C")
    assert settings.default_ocr_languages() == "eng"


def test_default_for_an_explicit_language() -> None:
    assert settings.default_ocr_languages("fr") == "fra+eng"
    assert settings.default_ocr_languages("EN") == "eng"
    assert settings.default_ocr_languages("zz") == "eng"


def test_a_valid_choice_round_trips(user_locale) -> None:
    user_locale("en_US.UTF-8")
    settings.save(settings.Settings(ocr_languages="ita+eng"))
    assert settings.load().ocr_languages == "ita+eng"
    assert json.loads(settings.settings_path().read_text())["ocr_languages"] == "ita+eng"


@pytest.mark.parametrize(
    "saved",
    ["por", "klingon", "eng+eng", "", "ENG", "eng+", "fra eng", "eng,fra", "osd", 42, None],
)
def test_an_unknown_value_falls_back_to_the_default(user_locale, saved) -> None:
    user_locale("es_ES.UTF-8")
    settings.settings_path().write_text(
        json.dumps({"ocr_languages": saved, "n_ctx": 8192}), encoding="utf-8"
    )
    loaded = settings.load()
    assert loaded.ocr_languages == "spa+eng"
    assert loaded.n_ctx == 8192  # the other settings are kept


def test_valid_combinations() -> None:
    assert settings.valid_ocr_languages("eng")
    assert settings.valid_ocr_languages("deu+fra+eng")
    assert not settings.valid_ocr_languages("eng+por")
