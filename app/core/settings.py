"""User settings: typed, saved as versioned JSON, never a reason not to start.

A value that is missing, of the wrong type or out of range falls back to its default
(and is logged), so a hand-edited or older settings file cannot stop the app.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.core.atomic import write_atomic
from app.core.group_reply import MAX_WAYS, MIN_WAYS
from app.core.remote import server_url_problem, worker_address_problem

log = logging.getLogger(__name__)

# 2: group_samples ("Think N ways"). 3: the Machines window's workers, pooled, server_url,
# server_model and use_server (never the server's API key: that lives in the keyring).
# 4: serve_api and serve_port (the local API server).
# Older files load as they are: a field a file lacks takes its default. A file from a newer
# Ponder loads what this one knows, and saving keeps the fields this one does not know.
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Settings:
    n_ctx: int = 0  # 0: planned for this machine
    gpu_layers: int = -1  # -1: auto (planned)
    threads: int = 0  # 0: physical cores
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 8192
    think_budget: int = 0  # 0: no budget
    thinking_panel: Literal["open", "collapsed"] = "open"
    theme: Literal["system", "light", "dark"] = "system"
    font_size: int = 11
    boxed_answers: bool = False  # ask for the final answer in \\boxed{} (math)
    system_prompt: str = ""  # R1 works best without one
    group_samples: int = 4  # "Think N ways": how many answers (MIN_WAYS to MAX_WAYS)
    workers: tuple[str, ...] = ()  # HOST:PORT of machines running `ponder worker`
    pooled: bool = False  # run the chat's model across the workers
    server_url: str = ""  # an OpenAI-compatible server to chat through
    server_model: str = ""  # its model id ("": the first it lists)
    use_server: bool = False  # chat through the server instead of a model here
    serve_api: bool = False  # serve the models to other apps (OpenAI-compatible, loopback)
    serve_port: int = 8134

    def validated(self) -> Settings:
        """A copy with every out-of-range value replaced by its default."""
        default = Settings()
        checks: dict[str, bool] = {
            "n_ctx": self.n_ctx == 0 or 256 <= self.n_ctx <= 1_048_576,
            "gpu_layers": self.gpu_layers >= -1,
            "threads": 0 <= self.threads <= 1024,
            "temperature": 0.0 <= self.temperature <= 2.0,
            "top_p": 0.0 < self.top_p <= 1.0,
            "max_tokens": 1 <= self.max_tokens <= 1_048_576,
            "think_budget": self.think_budget >= 0,
            "thinking_panel": self.thinking_panel in ("open", "collapsed"),
            "theme": self.theme in ("system", "light", "dark"),
            "font_size": 6 <= self.font_size <= 48,
            "group_samples": MIN_WAYS <= self.group_samples <= MAX_WAYS,
            "serve_port": 1024 <= self.serve_port <= 65535,
        }
        bad: dict[str, Any] = {
            name: getattr(default, name) for name, ok in checks.items() if not ok
        }
        for name, fallback in bad.items():
            log.warning(
                "setting %s=%r is out of range; using %r", name, getattr(self, name), fallback
            )
        # One mistyped worker in a hand-edited file costs that worker, not the others.
        workers = tuple(dict.fromkeys(w for w in self.workers if not worker_address_problem(w)))
        if workers != self.workers:
            log.warning("settings: workers %r kept of %r", workers, self.workers)
            bad["workers"] = workers
        if self.server_url and server_url_problem(self.server_url):
            log.warning("setting server_url=%r is not a URL; using none", self.server_url)
            bad["server_url"] = ""
        return dataclasses.replace(self, **bad)


def load_settings(path: Path) -> Settings:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    version = raw.get("schema_version", 1)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        log.info(
            "settings written by a newer Ponder (schema %d, this one knows %d): its other "
            "fields are kept as they are",
            version,
            SCHEMA_VERSION,
        )
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name not in raw:
            continue
        value, default = raw[f.name], getattr(Settings(), f.name)
        if isinstance(default, tuple) and isinstance(value, list):  # JSON has no tuples
            if all(isinstance(v, str) for v in value):
                values[f.name] = tuple(value)
            else:
                log.warning("setting %s has the wrong type (%r); using the default", f.name, value)
        elif type(value) is type(default) or (isinstance(default, float) and type(value) is int):
            values[f.name] = type(default)(value)
        else:
            log.warning("setting %s has the wrong type (%r); using the default", f.name, value)
    return Settings(**values).validated()


def save_settings(path: Path, settings: Settings) -> None:
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(settings)}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if (
        isinstance(old, dict)
        and isinstance(v := old.get("schema_version"), int)
        and v > SCHEMA_VERSION
    ):
        # Going back to an older Ponder for a while must not cost the newer one's settings.
        data = {**old, **dataclasses.asdict(settings), "schema_version": v}
    write_atomic(path, json.dumps(data, indent=2) + "\n")
