"""The one download state: what the Models window deleted is not offered for resuming."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.paths import app_paths
from app.gui.workers.download_worker import DownloadQueue
from app.modelhub.progress import Progress
from app.modelhub.secrets import TokenStore
from app.modelhub.store import ModelStore
from tests.unit.test_secrets import DictKeyring

pytestmark = pytest.mark.gui


def test_a_paused_download_deleted_stands_as_cancelled(ponder_home: Path) -> None:
    """A paused download's parts deleted (Cancel on a paused row) leave no "Paused at 45%"
    behind for the first-run page. The worker's signals are played in as a download
    would send them (a real one needs the Hub; test_welcome.py runs those)."""
    paths = app_paths().ensure()
    queue = DownloadQueue(
        ModelStore.from_paths(paths), paths.downloads_dir, TokenStore(DictKeyring())
    )
    key = "r1-distill-qwen-1.5b/Q4_K_M"
    queue._on_progress(key, Progress(450, 1000, 10.0, 55.0, "model.gguf"))
    queue._on_stopped(key, False)
    paused = queue.state(key)
    assert paused is not None and paused.status == "paused" and paused.progress is not None
    queue.discarded(key)
    gone = queue.state(key)
    assert gone is not None and gone.status == "cancelled"
    queue.discarded("never-started")  # nothing to forget: no state appears
    assert queue.state("never-started") is None
