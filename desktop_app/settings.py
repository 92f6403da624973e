"""Typed user settings with their defaults in one place, saved as atomic JSON.

A settings file that is corrupt or from another version must never stop the
app from starting: unknown keys are ignored, values of the wrong type fall
back to the default, and an unreadable file is kept aside as
`settings.json.bad` so nothing the user set is silently destroyed.
"""

from __future__ import annotations

import dataclasses
import json
import locale
import logging
import os
import plistlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from desktop_app import atomic, paths

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are Folio, a careful assistant that answers questions about the user's documents. "
    "Answer from the documents when they are given. Back each statement with a citation that "
    'quotes a few of the document\'s exact words, like [Page 3: "the exact words"] or '
    '[§ 2.1: "the exact words"], so that the reader can check it. Say plainly when the '
    "documents do not contain the answer."
)
#: Earlier defaults: a settings file that still holds one gets the current default (the
#: file keeps every field, so a prompt the user never edited would otherwise stay old).
PREVIOUS_SYSTEM_PROMPTS = (
    "You are Folio, a careful assistant that answers questions about the user's documents. "
    "Answer from the documents when they are given, cite pages or sections like [Page 3] "
    "or [§ 2.1], and say plainly when the documents do not contain the answer.",
)


#: ISO 639-1 language → the Tesseract language Folio bundles for it (core/documents/ocr.py's
#: BUNDLED_LANGUAGES, in the same order; tests/unit/test_ocr_settings.py holds them equal).
OCR_LANGUAGE_OF = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "nl": "nld"}
#: Windows and some POSIX systems name locales in English ("French_France.1252").
_LANGUAGE_NAMES = {"english": "en", "french": "fr", "german": "de", "spanish": "es",
                   "italian": "it", "dutch": "nl"}  # fmt: skip


def _macos_languages() -> list[str]:
    """The languages the user ranked in System Settings (a GUI app starts without LANG)."""
    path = Path.home() / "Library" / "Preferences" / ".GlobalPreferences.plist"
    try:
        with path.open("rb") as handle:
            ranked = plistlib.load(handle).get("AppleLanguages", [])
    except (OSError, ValueError, plistlib.InvalidFileException):
        return []
    return [str(name) for name in ranked] if isinstance(ranked, list) else []


def system_language() -> str:
    """The user's language as an ISO 639-1 code ("fr"), or "" when nothing says.

    In gettext's order: LANGUAGE (its first entry), LC_ALL, LC_MESSAGES, LANG; then the
    platform's own setting (Windows' UI language, macOS's ranked languages); then Python's
    locale. "C" and "POSIX" say nothing.
    """
    candidates = [os.environ.get("LANGUAGE", "").split(":")[0]]
    candidates += [os.environ.get(name, "") for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
    if sys.platform == "win32":
        try:
            import ctypes

            lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
            candidates.append(locale.windows_locale.get(lcid, ""))
        except (AttributeError, OSError):
            pass
    elif sys.platform == "darwin":
        candidates += _macos_languages()[:1]
    try:
        candidates.append(locale.getlocale()[0] or "")
    except ValueError:
        pass
    for name in candidates:
        code = name.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
        if code in ("", "c", "posix"):
            continue
        return _LANGUAGE_NAMES.get(code, code)
    return ""


def default_ocr_languages(language: str | None = None) -> str:
    """The OCR languages for a user who speaks `language` (ISO 639-1; None: this system's).

    The document language first, English second (contracts and specs mix in English terms
    and names); English alone for English and for any language Folio does not bundle.
    """
    code = system_language() if language is None else language.lower()
    ocr = OCR_LANGUAGE_OF.get(code, "eng")
    return ocr if ocr == "eng" else f"{ocr}+eng"


def valid_ocr_languages(value: str) -> bool:
    """Whether `value` is one or more bundled Tesseract languages joined by "+", each once."""
    parts = value.split("+")
    return len(set(parts)) == len(parts) and all(p in OCR_LANGUAGE_OF.values() for p in parts)


@dataclass(frozen=True)
class Backend:
    """A remote engine server, as the user gave it (a setting or `--backend`)."""

    url: str
    key: str | None = None
    #: The model to ask for; None = the first one the server lists.
    model: str | None = None


@dataclass
class Settings:
    #: GGUF file to load; None means "the demo model if installed".
    model_path: str | None = None
    #: Context length in tokens; None lets Folio choose from the model and RAM.
    n_ctx: int | None = None
    #: Layers to offload to the GPU: None = as many as fit, 0 = CPU only.
    gpu_layers: int | None = None
    #: Decode threads; None = the number of physical cores.
    n_threads: int | None = None
    #: "auto" (decided per backend, see core/engine.py), "on" or "off".
    flash_attn: str = "auto"
    #: KV cache element type: "f16" or "q8_0" (q8_0 halves KV memory, needs flash attention).
    kv_cache_type: str = "f16"
    #: Let reasoning models think before answering (Qwen3.5's enable_thinking).
    thinking: bool = False
    #: Sampling values that override the model's preset; missing keys use the preset.
    sampling: dict[str, float] = field(default_factory=dict)
    #: Upper bound on one answer's length; an answer that reaches it is marked as cut off.
    max_answer_tokens: int = 4096
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    #: Documents larger than this are refused before reading (protects memory).
    max_document_mb: int = 200
    #: RAM for checkpoints of hybrid models' recurrent state (follow-ups, regenerate).
    checkpoint_ram_mb: int = 1024
    #: Disk for saved document states (re-opening a document skips reading it).
    state_cache_gb: float = 20.0
    #: "system" (follow the desktop), "light" or "dark".
    theme: str = "system"
    #: The OpenAI-compatible API inside the app (127.0.0.1 only), sharing its model.
    api_server: bool = False
    api_port: int = 8765
    #: A remote OpenAI-compatible engine server ("" = the model runs in Folio), its API
    #: key and the model to ask it for ("" = the first it lists).
    backend_url: str = ""
    backend_key: str = ""
    backend_model: str = ""
    #: The language(s) scanned documents are written in, as Tesseract codes joined by "+"
    #: ("fra+eng": French first), each one Folio bundles. Default: from the locale.
    ocr_languages: str = field(default_factory=default_ocr_languages)

    @property
    def max_document_bytes(self) -> int:
        return self.max_document_mb * 1024 * 1024

    @property
    def backend(self) -> Backend | None:
        if not self.backend_url.strip():
            return None
        return Backend(self.backend_url.strip(), self.backend_key or None,
                       self.backend_model or None)  # fmt: skip

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def _accepts(hint: Any, value: Any) -> bool:
    text = str(hint)
    if value is None:
        return "None" in text
    if isinstance(value, bool):
        return "bool" in text
    if isinstance(value, int):
        return "int" in text or "float" in text
    if isinstance(value, float):
        return "float" in text
    if isinstance(value, str):
        return "str" in text and "dict" not in text
    if isinstance(value, dict):
        return text.startswith("dict")
    return False


def load() -> Settings:
    path = settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s is unreadable (%s); using defaults", path, exc)
        try:
            os.replace(path, path.with_name(path.name + ".bad"))
        except OSError:
            pass
        return Settings()
    hints = get_type_hints(Settings)
    values = {}
    for f in dataclasses.fields(Settings):
        if f.name in raw and _accepts(hints[f.name], raw[f.name]):
            values[f.name] = raw[f.name]
    if values.get("system_prompt") in PREVIOUS_SYSTEM_PROMPTS:
        del values["system_prompt"]
    if "ocr_languages" in values and not valid_ocr_languages(values["ocr_languages"]):
        log.warning("settings: OCR languages %r unknown; using the default",
                    values.pop("ocr_languages"))  # fmt: skip
    return Settings(**values)


def save(settings: Settings) -> None:
    atomic.write_json(settings_path(), dataclasses.asdict(settings))
