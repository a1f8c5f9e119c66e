"""The Machines window's state: the workers and what they offer, what the catalog's
sizes do across them, an OpenAI-compatible server with its API key, and the route the
chat's messages take (``ChatRoute``).

It lives as long as the main window (the window itself is built on first use), so a chat
set to run pooled or through a server does so from the start. Every network or keyring
call runs off the GUI thread through ``BackgroundJobs``; the workers' addresses and the
server's URL are kept in Settings, the API key only in the keyring (or, where there is
none, for this session).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Signal,
)

from app.core.remote import server_url_problem, worker_address_problem
from app.core.settings import Settings
from app.gui.viewmodels.machine_tables import PooledLadderModel, WorkerTableModel
from app.gui.viewmodels.model_choice import ChatRoute
from app.gui.workers.background import BackgroundJobs
from app.gui.workers.machine_jobs import (
    KeyState,
    PooledRow,
    Probe,
    ServerCheck,
    check_server,
    key_state,
    plan_across,
    probe,
)
from app.inference.protocol import POOLED_CTX, EndpointSpec
from app.modelhub.secrets import TokenStore

log = logging.getLogger(__name__)


_Index = QModelIndex | QPersistentModelIndex


class MachinesController(QObject):
    """Workers, the pooled ladder, the server, and the route they make. GUI thread only.

    Args:
        settings: the app's current settings (read when needed: other windows change them).
        save: keep changed settings (the main window applies and writes them).
        keys: where the server's API key lives (a ``TokenStore`` of its own account).

    Signals:
        workers_changed(): a worker was added or removed, or a probe answered.
        ladder_changed(str): the pooled ladder was planned again, or is being planned; a
            sentence on what it shows.
        route_changed(object): the ``ChatRoute`` the chat's next message takes.
        server_checked(bool, str): the server answered Test (True) or not; one sentence.
        key_changed(str): where the API key is now, in words.
        settings_changed(): a setting of this window changed (a switch, the list, the
            server); the other switch may have turned off with it.
    """

    workers_changed = Signal()
    ladder_changed = Signal(str)
    route_changed = Signal(object)
    server_checked = Signal(bool, str)
    key_changed = Signal(str)
    settings_changed = Signal()

    def __init__(
        self,
        settings: Callable[[], Settings],
        save: Callable[[Settings], None],
        keys: TokenStore,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings, self._save, self._keys = settings, save, keys
        self.jobs = BackgroundJobs(self)
        self.workers = WorkerTableModel(self)
        self.ladder = PooledLadderModel(self)
        self.ladder_text = "Add a worker to see which models these machines can run together."
        self._probed = False  # a probe has answered since the app started
        self._plan_ticket = 0
        self.server_models: tuple[str, ...] = ()
        self.llama_server: bool | None = None  # unknown until Test
        self._key = KeyState(None)
        self.key_text = ""
        self.route = ChatRoute()
        self.workers.show(self.settings.workers, {})

    @property
    def settings(self) -> Settings:
        return self._settings()

    @property
    def busy(self) -> bool:
        """A probe, a plan, a server check or a keyring call is under way."""
        return self.jobs.running > 0

    def start(self) -> None:
        """At app start: ask the workers if the chat runs pooled, read the API key if a
        server is set, and say the route (until the workers answer, all of them)."""
        s = self.settings
        if s.server_url:
            self.read_key()
        if s.workers and s.pooled:
            self.test_workers()
        self._update_route()

    def refresh(self) -> None:
        """The window opened: ask the workers again (free memory changes) and the keyring."""
        self.test_workers()
        self.read_key()

    # -- workers -------------------------------------------------------------------------

    def add_worker(self, text: str) -> str:
        """Add ``text`` (HOST:PORT) and ask it; "" when added, else why not, one sentence."""
        address = text.strip()
        problem = worker_address_problem(address)
        if problem:
            return problem
        if address in self.settings.workers:
            return f"{address} is already in the list."
        self._change(workers=(*self.settings.workers, address))
        self.workers.show(self.settings.workers, self.workers.infos)
        self.workers_changed.emit()
        self.test_workers()
        return ""

    def remove_worker(self, address: str) -> None:
        workers = tuple(w for w in self.settings.workers if w != address)
        self._change(workers=workers)
        infos = {a: w for a, w in self.workers.infos.items() if a in workers}
        self.workers.show(workers, infos)
        self.workers_changed.emit()
        self._update_route()
        self._plan()

    def test_workers(self) -> None:
        """Ask every worker again, off the GUI thread; then plan the ladder across them."""
        addresses = self.settings.workers
        if not addresses:
            self._plan()
            return
        self.jobs.run(
            lambda: probe(addresses), self._on_probed, self._on_probe_failed, what="Asking workers"
        )

    def set_pooled(self, on: bool) -> None:
        """Run the chat's model across the usable workers (turns the server off)."""
        self._change(pooled=on, use_server=False if on else self.settings.use_server)
        self._update_route()

    def usable(self) -> tuple[str, ...]:
        """The workers the chat would pool across: those the last probe found usable (all
        of them before the first probe: the engine then says which it cannot reach)."""
        addresses = self.settings.workers
        if not self._probed:
            return addresses
        infos, expected = self.workers.infos, self.workers.expected
        return tuple(a for a in addresses if a in infos and infos[a].compatible(expected))

    def split(self) -> tuple[float, ...]:
        """Shares per usable worker when one lends less than it has free (`ponder worker
        --mem`); () lets llama.cpp split by free memory."""
        infos = [self.workers.infos.get(a) for a in self.usable()]
        if not self._probed or any(i is None for i in infos):
            return ()
        known = [i for i in infos if i is not None]
        if all(i.offered_bytes is None for i in known):
            return ()
        return tuple(round(i.usable_bytes / 1e9, 3) for i in known)

    def pooled_text(self) -> str:
        """A sentence on what the switch does now."""
        s = self.settings
        if not s.pooled:
            return "The chat's model runs on this computer."
        if s.use_server:
            return "The chat goes through the server below, not the workers."
        if not s.workers:
            return "Add a worker: until then the chat's model runs on this computer."
        usable = self.usable()
        if not usable:
            return "No worker is usable now, so the chat's model runs on this computer."
        n = len(usable)
        return f"The chat's model runs pooled across {n} machine{'s' if n != 1 else ''}."

    def _on_probed(self, result: Probe) -> None:
        current = self.settings.workers
        infos = dict(self.workers.infos)
        infos.update({w.address: w for w in result.workers if w.address in current})
        self._probed = True
        self.workers.expected = result.expected
        self.workers.show(current, infos)
        self.workers_changed.emit()
        self._update_route()
        self._plan()

    def _on_probe_failed(self, message: str) -> None:
        self.ladder_text = message
        self.ladder_changed.emit(message)

    def _plan(self) -> None:
        self._plan_ticket += 1
        ticket = self._plan_ticket
        addresses = self.settings.workers
        infos = tuple(self.workers.infos[a] for a in addresses if a in self.workers.infos)
        if not infos:
            self.ladder.show([])
            self.ladder_text = (
                "Add a worker to see which models these machines can run together."
                if not addresses
                else "Asking the workers…"
            )
            self.ladder_changed.emit(self.ladder_text)
            return
        expected, n_ctx = self.workers.expected, self.settings.n_ctx or POOLED_CTX
        self.ladder_text = "Planning every model across these machines…"
        self.ladder_changed.emit(self.ladder_text)

        def planned(rows: list[PooledRow]) -> None:
            if ticket != self._plan_ticket:
                return  # the workers changed meanwhile: a newer plan follows
            self.ladder.show(rows)
            fits = [r for r in rows if r.plan.fits]
            self.ladder_text = (
                f"Across these machines, at a context of {n_ctx:,} tokens: the largest "
                f"that runs is {fits[-1].name} {fits[-1].quant}."
                if fits
                else f"No model in the catalog runs across these machines "
                f"(context {n_ctx:,} tokens)."
            )
            self.ladder_changed.emit(self.ladder_text)

        def failed(message: str) -> None:
            if ticket == self._plan_ticket:
                self.ladder_text = message
                self.ladder_changed.emit(message)

        self.jobs.run(lambda: plan_across(infos, expected, n_ctx), planned, failed, what="Planning")

    # -- the server ----------------------------------------------------------------------

    def set_server(self, url: str, model: str) -> str:
        """Keep the server's URL and model id; "" when kept, else why not (one sentence)."""
        url, model = url.strip(), model.strip()
        problem = server_url_problem(url) if url else None
        if problem:
            return problem
        s = self.settings
        if (url, model) != (s.server_url, s.server_model):
            self._change(server_url=url, server_model=model, use_server=s.use_server and bool(url))
            self._update_route()
        return ""

    def test_server(self, url: str, typed_key: str = "") -> str:
        """Ask ``url`` for its models off the GUI thread (``server_checked`` follows); with
        a key typed but not kept yet, that one. "" when asked, else why not."""
        url = url.strip()
        problem = server_url_problem(url)
        if problem:
            return problem
        key = typed_key.strip() or self._key.key
        self.jobs.run(
            lambda: check_server(url, key),
            self._on_server_checked,
            lambda message: self.server_checked.emit(False, message),
            what="Asking the server",
        )
        return ""

    def set_use_server(self, on: bool) -> str:
        """Chat through the server (turns pooling off); "" when done, else why not."""
        if on and not self.settings.server_url:
            return "Give the server's address first."
        self._change(use_server=on, pooled=False if on else self.settings.pooled)
        self._update_route()
        return ""

    def keep_key(self, key: str) -> None:
        """Keep the API key in the keyring, or for this session where there is none."""
        keys = self._keys

        def work() -> KeyState:
            if not keys.status().usable:
                keys.set_token(key, session_only=True)
            else:
                keys.set_token(key)
            return key_state(keys)

        self.jobs.run(work, self._on_key, self._on_key_failed, what="Keeping the key")

    def forget_key(self) -> None:
        keys = self._keys

        def work() -> KeyState:
            keys.remove()
            return key_state(keys)

        self.jobs.run(work, self._on_key, self._on_key_failed, what="Removing the key")

    def read_key(self) -> None:
        """Ask the keyring where the API key is (``key_changed`` follows)."""
        keys = self._keys
        self.jobs.run(lambda: key_state(keys), self._on_key, self._on_key_failed, what="The key")

    def _on_server_checked(self, check: ServerCheck) -> None:
        self.server_models, self.llama_server = check.models, check.llama_server
        count = len(check.models)
        listed = f"{count} model{'s' if count != 1 else ''}" if count else "no model list"
        kind = (
            "llama.cpp's server: the think budget and Answer now work"
            if check.llama_server
            else "not llama.cpp's server: the think budget and Answer now may not work"
        )
        self.server_checked.emit(True, f"The server answers ({listed}); {kind}.")

    def _on_key(self, state: KeyState) -> None:
        self._key = state
        if state.location == "keyring":
            self.key_text = f"The API key is stored in the system keyring ({state.keyring})."
        elif state.location == "session":
            self.key_text = (
                "The API key is kept for this session only (no system keyring here); "
                "type it again after Ponder restarts."
            )
        else:
            self.key_text = "No API key (a local server needs none)."
        self.key_changed.emit(self.key_text)
        self._update_route()

    def _on_key_failed(self, message: str) -> None:
        self.key_text = message
        self.key_changed.emit(message)

    # -- shared --------------------------------------------------------------------------

    def _change(self, **changes: Any) -> None:
        self._save(dataclasses.replace(self.settings, **changes))
        self.settings_changed.emit()

    def _update_route(self) -> None:
        s = self.settings
        if s.use_server and s.server_url:
            server = EndpointSpec(s.server_url, s.server_model, self._key.key, label="endpoint")
            route = ChatRoute(server=server)
        elif s.pooled:
            route = ChatRoute(workers=self.usable(), split=self.split())
        else:
            route = ChatRoute()
        if route != self.route:
            self.route = route
            self.route_changed.emit(route)
