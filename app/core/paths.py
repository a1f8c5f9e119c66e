"""Where Ponder keeps its files: ``PONDER_HOME`` when set, else the platform's dirs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "ponder"


@dataclass(frozen=True)
class AppPaths:
    """The folders Ponder writes to; created on first use by ``ensure``."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def downloads_dir(self) -> Path:
        return self.cache_dir / "downloads"

    @property
    def engine_log(self) -> Path:
        return self.log_dir / "engine.log"

    @property
    def app_log(self) -> Path:
        return self.log_dir / "ponder.log"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def window_state(self) -> Path:
        """Window geometry, splitter sizes, last model and chat (not settings)."""
        return self.config_dir / "window.ini"

    @property
    def cpu_safety(self) -> Path:
        """llama.cpp CPU libraries that fault on this machine (``app.inference.cpu_safety``)."""
        return self.data_dir / "cpu-safety.json"

    @property
    def database(self) -> Path:
        return self.data_dir / "chats.sqlite3"

    def ensure(self) -> AppPaths:
        for folder in (self.config_dir, self.data_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> AppPaths:
    """Resolve the folders for this process (``PONDER_HOME`` overrides all of them)."""
    home = os.environ.get("PONDER_HOME")
    if home:
        base = Path(home).expanduser()
        return AppPaths(config_dir=base / "config", data_dir=base, cache_dir=base / "cache")
    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )
