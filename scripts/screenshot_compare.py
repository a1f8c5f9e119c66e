"""Take the README's screenshots of the Compare window (run under Xvfb).

A real bench of the real 270M Gemma test model under two names (the only model that runs
on the build machine; it is a base model, so its answers are not meaningful and the checker
marks them wrong), on the built-in "quick" set. Usage:
    xvfb-run -a -s "-screen 0 1280x820x24" .venv/bin/python scripts/screenshot_compare.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from app.core.settings import load_settings  # noqa: E402
from app.gui.app import make_application  # noqa: E402
from app.gui.theme import apply_theme  # noqa: E402
from app.inference.lease import EngineLease  # noqa: E402
from scripts.screenshots import pump, shoot  # noqa: E402

GEMMA = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
RUN_TIMEOUT_S = 600


def copy_of(model: Path, target: Path) -> Path:
    try:
        os.link(model, target)
    except OSError:
        import shutil

        shutil.copyfile(model, target)
    return target


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    if not GEMMA.exists():
        print(f"no test model at {GEMMA}: run the test suite once to assemble it")
        return 1
    with tempfile.TemporaryDirectory(prefix="ponder-shots-") as tmp:
        os.environ["PONDER_HOME"] = str(Path(tmp) / "home")
        app = make_application([sys.argv[0]])
        from app.core.paths import app_paths
        from app.gui.views.compare_view import CompareWindow

        apply_theme(app, load_settings(app_paths().ensure().settings_file).theme, 10)
        models = [copy_of(GEMMA, Path(tmp) / name) for name in ("gemma-3-270m-Q4_K_M.gguf",)]
        models.append(copy_of(GEMMA, Path(tmp) / "gemma-3-270m-copy-Q4_K_M.gguf"))
        window = CompareWindow(lease=EngineLease(), scan=False)
        window.resize(1240, 790)
        window.move(20, 15)
        window.show()
        window.add_model_paths(models)
        window.setup.prompt_source.setCurrentIndex(window.setup.prompt_source.findData("quick"))
        window.setup.runs.setValue(3)
        window.setup.max_tokens.setValue(48)
        window.start_run()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while window.is_running() and time.monotonic() < deadline:
            pump(app, 0.1)
        pump(app, 1.0)
        if window.report is None:
            print(f"the bench did not finish: {window.setup.status.text()}")
            return 1
        columns = window.columns.columns
        if columns and columns[0].replies:
            columns[0].replies[0].thinking.toggle.setChecked(False)
        shoot(app, out / "compare.png")
        window.tabs.setCurrentIndex(1)
        shoot(app, out / "compare-measures.png")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
