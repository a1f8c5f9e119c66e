"""The packaged app: build the one-folder bundle with PyInstaller, then use it as a user would.

The bundle is built once for this module (about a minute on two cores) into a temporary
folder, with the same script `make package` runs. Then the frozen program runs the self-test
(window offscreen, the real engine child process, the real 270M model), the CLI commands, and
the Linux install script; the desktop entry and AppStream metadata are checked with the
freedesktop validators.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__
from app.gui.app import DESKTOP_ID, ICON_SIZES, app_icon

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
DESKTOP_FILE = RESOURCES / f"{DESKTOP_ID}.desktop"
METAINFO_FILE = RESOURCES / f"{DESKTOP_ID}.metainfo.xml"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundle")


def _tool(name: str) -> str:
    """A freedesktop validator; CI installs them (.ci/run), elsewhere they may be missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run should have installed it")
        pytest.skip(f"{name} is not installed")
    return path


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> tuple[int, str, str]:
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dist/ponder, built by packaging/build.sh (the `make package` recipe) into a tmp dir."""
    out = tmp_path_factory.mktemp("package")
    env = dict(os.environ, PYTHON=sys.executable)
    code, stdout, stderr = _run(
        [
            "bash",
            "packaging/build.sh",
            "--distpath",
            str(out / "dist"),
            "--workpath",
            str(out / "work"),
        ],
        env,
        ROOT,
        timeout=800,
    )
    assert code == 0, f"the build failed:\n{stdout}\n{stderr}"
    folder = out / "dist" / "ponder"
    yield folder
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment with nothing of this checkout in it: a fresh HOME, no venv."""
    home = tmp_path / "user"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PONDER_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")
    }
    temp = tmp_path / "temp"
    temp.mkdir()
    env.update(HOME=str(home), TMPDIR=str(temp), QT_QPA_PLATFORM="offscreen")
    return env


@linux_only
@pytest.mark.slow
def test_frozen_app_self_test_generates_through_the_engine_process(
    bundle: Path, gemma_path: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    code, stdout, stderr = _run(
        [str(bundle / "ponder"), "--self-test", str(gemma_path), "--timeout", "240"],
        user_env,
        tmp_path,
    )
    assert code == 0, stderr
    assert "self-test passed" in stdout
    assert "through the engine process" in stdout
    # It wrote into a temporary home of its own, not the user's, and removed it on success.
    assert not list(Path(user_env["HOME"]).iterdir())
    assert not list(Path(user_env["TMPDIR"]).iterdir())


@linux_only
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_frozen_app_runs_on_an_older_cpu_with_avx2_only(
    bundle: Path, gemma_path: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    """The bundle built on this machine runs on a Haswell (AVX2, no AVX-512, no AMX).

    QEMU's user mode runs the window process as that CPU, and the engine process too (an
    emulated program's children run natively, so the engine is started through a wrapper
    with ``PONDER_ENGINE_EXECUTABLE``). A build for the build machine's CPU dies of SIGILL
    here; the portable one picks llama.cpp's AVX2 code and answers.
    """
    if platform.machine() != "x86_64":
        pytest.skip("the emulated CPU is an x86-64 one")
    qemu = _tool("qemu-x86_64")
    wrapper = tmp_path / "engine-on-haswell"
    wrapper.write_text(f'#!/bin/sh\nexec "{qemu}" -cpu Haswell "{bundle / "ponder"}" "$@"\n')
    wrapper.chmod(0o755)
    env = dict(user_env, PONDER_ENGINE_EXECUTABLE=str(wrapper))
    code, stdout, stderr = _run(
        [
            qemu,
            "-cpu",
            "Haswell",
            str(bundle / "ponder"),
            "--self-test",
            str(gemma_path),
            "--timeout",
            "1200",
        ],
        env,
        tmp_path,
        timeout=1500,
    )
    assert code == 0, stderr
    assert "self-test passed" in stdout
    assert "AVX2 CPU code" in stdout, stdout


@linux_only
@pytest.mark.slow
def test_frozen_self_test_names_a_missing_model_in_one_line(
    bundle: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    code, stdout, stderr = _run(
        [str(bundle / "ponder"), "--self-test", str(tmp_path / "none.gguf")], user_env, tmp_path
    )
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "none.gguf" in stderr and "Traceback" not in stderr


@linux_only
@pytest.mark.slow
def test_frozen_cli_works_without_the_window(
    bundle: Path, gemma_path: Path, r1_header_path: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    exe = str(bundle / "ponder")
    code, stdout, _ = _run([exe, "--version"], user_env, tmp_path)
    assert (code, stdout.strip()) == (0, f"ponder {__version__}")

    code, stdout, stderr = _run([exe, "hw", "--json"], user_env, tmp_path)
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["hardware"]["backend"]
    assert len(report["ladder"]) >= 7  # the catalog, read from the bundle's resources/

    code, stdout, stderr = _run([exe, "inspect", str(r1_header_path), "--json"], user_env, tmp_path)
    assert code == 0, stderr
    assert json.loads(stdout)["architecture"] == "qwen2"

    chat = ["chat", "-m", str(gemma_path), "-p", "Hello", "--max-tokens", "4", "--temp", "0"]
    code, stdout, stderr = _run([exe, *chat, "--json"], user_env, tmp_path)
    assert code == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[-1]["event"] == "done"
    assert events[-1]["stats"]["answer_tokens"] + events[-1]["stats"]["reasoning_tokens"] >= 1


@linux_only
@pytest.mark.slow
def test_frozen_bench_reads_the_prompt_sets_and_runs_code_checks(
    bundle: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    """The built-in prompt set comes from the bundle, and the coding task's answer is run
    by the bundle's own Python (no Python is installed for the user). A replay file stands
    in for a model that writes a correct solution (see DESIGN.md)."""
    solution = (
        "```python\ndef is_palindrome(s: str) -> bool:\n"
        "    t = [c.lower() for c in s if c.isalnum()]\n    return t == t[::-1]\n```"
    )
    replay = tmp_path / "coder.jsonl"
    replay.write_text(json.dumps({"chunk": solution}) + "\n")
    cmd = [str(bundle / "ponder"), "bench", str(replay), str(replay), "--runs", "1"]
    code, stdout, stderr = _run([*cmd, "--no-save", "--json"], user_env, tmp_path)
    assert code == 0, stderr
    gens = json.loads(stdout)["models"][0]["runs"][0]["generations"]
    assert {g["prompt_id"] for g in gens} >= {"cookies", "palindrome"}  # the quick set
    palindrome = next(g for g in gens if g["prompt_id"] == "palindrome")
    assert palindrome["correct"] is True, palindrome


@linux_only
@pytest.mark.slow
def test_bundle_holds_engine_libraries_qt_plugins_and_resources_only_once(bundle: Path) -> None:
    internal = bundle / "_internal"
    libs = {p.name for p in (internal / "llama_cpp" / "lib").iterdir()}
    assert {"libllama.so", "libggml.so", "libggml-base.so"} <= libs
    # The CPU code for every instruction-set level, chosen when the engine starts, and
    # llama.cpp's programs for `ponder worker` and the pooled engine (not its benchmarks).
    if platform.machine() == "x86_64":
        assert {"libggml-cpu-x64.so", "libggml-cpu-haswell.so", "libggml-cpu-skylakex.so"} <= libs
        assert "libggml-cpu-sapphirerapids.so" in libs
    else:
        assert any(name.startswith("libggml-cpu") for name in libs)
    assert {"ggml-rpc-server", "llama-server", "ponder-build.json"} <= libs
    assert "llama-bench" not in libs
    assert not [name for name in libs if name.count(".so.") and name.split(".so.")[1].count(".")]
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
    ):
        assert (plugins / plugin).is_file(), plugin
    qt_libs = {p.name for p in (internal / "PySide6" / "Qt" / "lib").iterdir()}
    unused = [n for n in qt_libs if n.startswith(("libQt6Quick", "libQt6Qml", "libQt6WebEngine"))]
    assert unused == []
    for resource in ("catalog.json", f"{DESKTOP_ID}.desktop", f"{DESKTOP_ID}.metainfo.xml"):
        assert (internal / "resources" / resource).is_file(), resource
    assert (bundle / "install-linux.sh").is_file()


@linux_only
@pytest.mark.slow
def test_install_script_adds_menu_entry_and_icons_then_removes_them(
    bundle: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(user_env["HOME"])
    share = home / ".local" / "share"
    code, stdout, stderr = _run(["bash", str(bundle / "install-linux.sh")], user_env, tmp_path)
    assert code == 0, stderr
    assert "applications menu" in stdout

    entry = share / "applications" / f"{DESKTOP_ID}.desktop"
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert f'Exec="{bundle / "ponder"}"' in lines
    assert f"Icon={DESKTOP_ID}" in lines
    for size in ICON_SIZES:
        assert (
            share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{DESKTOP_ID}.png"
        ).is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{DESKTOP_ID}.svg").is_file()
    assert (home / ".local" / "bin" / "ponder").resolve() == (bundle / "ponder").resolve()
    if shutil.which("desktop-file-validate"):
        check = _run(["desktop-file-validate", str(entry)], user_env, tmp_path)
        assert check[0] == 0, check[1] + check[2]

    code, _, stderr = _run(
        ["bash", str(bundle / "install-linux.sh"), "--uninstall"], user_env, tmp_path
    )
    assert code == 0, stderr
    assert not entry.exists()
    assert not list((share / "icons").rglob(f"{DESKTOP_ID}.*"))
    assert not (home / ".local" / "bin" / "ponder").exists()


def test_install_script_refuses_a_folder_without_ponder(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    code, _, stderr = _run(
        ["bash", str(ROOT / "packaging" / "install-linux.sh"), str(tmp_path)], user_env, tmp_path
    )
    assert code == 2
    assert "no Ponder program" in stderr and stderr.count("\n") == 1


def test_metainfo_passes_appstream_validation() -> None:
    appstreamcli = _tool("appstreamcli")
    proc = subprocess.run(
        [appstreamcli, "validate", "--no-net", str(METAINFO_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_desktop_entry_passes_validation() -> None:
    validator = _tool("desktop-file-validate")
    proc = subprocess.run(
        [validator, str(DESKTOP_FILE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_desktop_entry_metainfo_and_window_share_one_app_id() -> None:
    """The desktop matches a window to its menu entry and icon by this id (Wayland app id)."""
    entry = dict(
        line.split("=", 1)
        for line in DESKTOP_FILE.read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    assert entry["Icon"] == DESKTOP_ID
    component = ET.parse(METAINFO_FILE).getroot()
    assert component.findtext("id") == DESKTOP_ID
    assert component.findtext("launchable") == f"{DESKTOP_ID}.desktop"
    release = component.find("releases/release")
    assert release is not None and release.get("version") == __version__


@pytest.mark.gui
def test_icons_load_at_every_size(qapp: object) -> None:
    from PySide6.QtGui import QImageReader

    icon = app_icon()
    assert {s.width() for s in icon.availableSizes()} == set(ICON_SIZES)
    for size in ICON_SIZES:
        image = QImageReader(str(RESOURCES / "icons" / f"ponder-{size}.png")).read()
        assert (image.width(), image.height()) == (size, size)
    for container, sizes in (
        ("ponder.ico", {16, 24, 32, 48, 64, 128, 256}),
        ("ponder.icns", {16, 32, 64, 128, 256, 512, 1024}),
    ):
        reader = QImageReader(str(RESOURCES / "icons" / container))
        found = set()
        for index in range(reader.imageCount()):
            reader.jumpToImage(index)
            image = reader.read()
            assert not image.isNull(), f"{container} image {index}"
            found.add(image.width())
        assert found == sizes, container
