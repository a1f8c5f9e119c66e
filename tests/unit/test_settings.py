from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from app.core.settings import SCHEMA_VERSION, Settings, load_settings, save_settings


def test_round_trip_with_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = Settings(
        n_ctx=8192,
        gpu_layers=20,
        temperature=0.7,
        thinking_panel="collapsed",
        theme="dark",
        think_budget=2000,
    )
    save_settings(path, s)
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert load_settings(path) == s


def test_missing_file_gives_r1_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "nope.json")
    assert (s.temperature, s.top_p, s.system_prompt) == (0.6, 0.95, "")


def test_bad_values_fall_back_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {"temperature": 9, "top_p": "high", "font_size": 14, "theme": "purple", "n_ctx": 4096}
        )
    )
    s = load_settings(path)
    assert s.temperature == 0.6 and s.top_p == 0.95 and s.theme == "system"
    assert s.font_size == 14 and s.n_ctx == 4096  # the good ones are kept


def test_garbage_file_does_not_stop_the_app(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\x00{not json")
    assert load_settings(path) == Settings()


def test_a_version_1_file_loads_with_think_n_ways_at_its_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "temperature": 0.7, "font_size": 13}))
    s = load_settings(path)
    assert (s.temperature, s.font_size) == (0.7, 13)
    assert s.group_samples == Settings().group_samples == 4


def test_think_n_ways_is_remembered_within_2_to_8(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, Settings(group_samples=6))
    assert load_settings(path).group_samples == 6
    for bad in (1, 9, "six"):
        path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "group_samples": bad}))
        assert load_settings(path).group_samples == 4


def test_a_version_2_file_loads_without_machines(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "group_samples": 6}))
    s = load_settings(path)
    assert s.group_samples == 6
    assert (s.workers, s.pooled, s.server_url, s.use_server) == ((), False, "", False)


def test_workers_and_a_server_are_remembered_and_a_mistyped_worker_is_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "settings.json"
    kept = Settings(
        workers=("10.0.0.5:50052", "[::1]:50053"),
        pooled=True,
        server_url="https://api.deepseek.com",
        server_model="deepseek-reasoner",
    )
    save_settings(path, kept)
    assert json.loads(path.read_text())["workers"] == ["10.0.0.5:50052", "[::1]:50053"]
    assert load_settings(path) == kept
    workers = ["10.0.0.5:50052", "no port", "10.0.0.5:50052", "h:0"]
    path.write_text(json.dumps({"workers": workers, "server_url": "ftp://x"}))
    s = load_settings(path)
    assert s.workers == ("10.0.0.5:50052",) and s.server_url == ""
    path.write_text(json.dumps({"workers": [1, 2]}))
    assert load_settings(path).workers == ()


def test_settings_from_a_newer_ponder_survive_a_save_by_this_one(tmp_path: Path) -> None:
    """schema_version is read: a file a newer Ponder wrote loads what this one knows, and
    saving it back keeps the newer fields and version (going back and forth loses nothing)."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 99, "temperature": 0.3, "future_knob": {"a": 1}}))
    loaded = load_settings(path)
    assert loaded.temperature == 0.3
    save_settings(path, dataclasses.replace(loaded, font_size=14))
    data = json.loads(path.read_text())
    assert data["schema_version"] == 99 and data["future_knob"] == {"a": 1}
    assert data["font_size"] == 14 and data["temperature"] == 0.3


def test_the_api_server_is_off_by_default_and_its_port_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_settings(path).serve_api is False
    path.write_text(json.dumps({"schema_version": 4, "serve_api": True, "serve_port": 80}))
    loaded = load_settings(path)
    assert loaded.serve_api is True and loaded.serve_port == 8134  # below 1024: default
