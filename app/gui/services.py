"""The app's services, built once by the composition root (``app.gui.app``) and passed down.

A view asks ``Services`` for what it needs (the models on disk, the download queue, the
keyring's tokens, the engine lease, where settings are kept) and never builds one itself
nor asks ``app_paths()``: so every window shares one download queue and one token store
(a session-only token set in Settings is the one downloads use), and a test hands a window
the services it wants (a loopback Hub's retry policy, a keyring of its own).

    open_session ──> Services.build(paths, store) ──> MainWindow ──> ToolWindows, WelcomePage,
                                                                     ModelManagerDialog, ...
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.paths import AppPaths
from app.core.settings import Settings, save_settings
from app.core.store import ChatStore
from app.gui.workers.download_worker import DownloadQueue
from app.inference.lease import EngineLease
from app.modelhub.catalog import Catalog, load_catalog
from app.modelhub.downloader import RetryPolicy
from app.modelhub.secrets import TokenStore
from app.modelhub.store import ModelStore

# The keyring account of the API key of a server the chat talks through (Machines window);
# the Hub token and `ponder serve`'s own key have their own.
SERVER_KEY_ACCOUNT = "openai-server"


@dataclass
class Services:
    """What the windows share. ``lease`` is the engine's one owner: the chat, Compare and
    the API server all take their turn through it."""

    paths: AppPaths
    store: ChatStore
    tokens: TokenStore
    server_keys: TokenStore
    models: ModelStore
    downloads: DownloadQueue
    lease: EngineLease

    @classmethod
    def build(
        cls,
        paths: AppPaths,
        store: ChatStore,
        *,
        lease: EngineLease | None = None,
        tokens: TokenStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> Services:
        """``paths`` must exist (``app_paths().ensure()``); ``retry``: the downloads'
        policy (tests shorten it)."""
        tokens = tokens if tokens is not None else TokenStore()
        models = ModelStore.from_paths(paths)
        return cls(
            paths=paths,
            store=store,
            tokens=tokens,
            server_keys=TokenStore(account=SERVER_KEY_ACCOUNT),
            models=models,
            downloads=DownloadQueue(models, paths.downloads_dir, tokens, retry=retry),
            lease=lease if lease is not None else EngineLease(),
        )

    @property
    def catalog(self) -> Catalog:
        """The model catalog (read once per process)."""
        return load_catalog()

    def save_settings(self, settings: Settings) -> None:
        """Write ``settings`` where the app keeps them.

        Raises:
            OSError: the file could not be written.
        """
        save_settings(self.paths.settings_file, settings)
