"""Where Folio keeps what the user creates.

Everything lives under platformdirs' per-user locations, unless `FOLIO_HOME`
is set: then config, data, cache and logs all live below that one folder.
Tests set `FOLIO_HOME` to a temp dir so they never touch a real profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Folio"
HOME_ENV = "FOLIO_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def _dir(kind: str) -> Path:
    home = _home_override()
    if home is not None:
        path = home / kind
    else:
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        path = Path(
            {
                "config": dirs.user_config_dir,
                "data": dirs.user_data_dir,
                "cache": dirs.user_cache_dir,
                "logs": dirs.user_log_dir,
            }[kind]
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings (settings.json)."""
    return _dir("config")


def data_dir() -> Path:
    """Chats, document metadata, downloaded models."""
    return _dir("data")


def cache_dir() -> Path:
    """Things that can be recomputed (extraction cache, saved prompt states)."""
    return _dir("cache")


def log_dir() -> Path:
    return _dir("logs")


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resource_path(name: str) -> Path:
    """A file from resources/, in a source checkout and in a frozen (PyInstaller) build."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parents[1]
    return root / "resources" / name
