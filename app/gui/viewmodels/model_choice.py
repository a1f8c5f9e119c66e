"""What the chat talks to: the model chosen (a GGUF here, or a replay) and its route (this
machine, pooled across workers, or a server), turned into the engine's request."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.settings import Settings
from app.inference.protocol import (
    POOLED_CTX,
    EndpointSpec,
    LoadSpec,
    ModelSpec,
    PooledSpec,
    ReplaySpec,
)


@dataclass(frozen=True)
class ChatRoute:
    """Where the chat's messages go other than to a model loaded here (the Machines
    window sets it): a GGUF pooled across ``workers``, or everything through ``server``.
    The default, neither, is this machine."""

    workers: tuple[str, ...] = ()  # HOST:PORT of the usable workers; () runs it here
    server: EndpointSpec | None = None
    split: tuple[float, ...] = ()  # per worker, when one lends less than it has free

    @property
    def description(self) -> str:
        """What the toolbar says ("" for this machine)."""
        if self.server is not None:
            host = self.server.url.split("://", 1)[-1].rstrip("/")
            return f"Through {self.server.model or 'the server'} at {host}"
        if self.workers:
            n = len(self.workers)
            return f"Pooled across {n} machine{'s' if n != 1 else ''}"
        return ""

    @property
    def model_name(self) -> str:
        """The name a chat through the server is saved under."""
        if self.server is None:
            return ""
        return self.server.model or self.server.url


@dataclass(frozen=True)
class ModelChoice:
    """The model the next message goes to: a GGUF file, or a replay (tests, benchmarks)."""

    name: str
    path: str
    replay_tokens_per_s: float | None = None
    is_replay: bool = False

    def spec(self, settings: Settings, route: ChatRoute | None = None) -> ModelSpec:
        """How the engine runs it: replays as recorded, a GGUF loaded here or pooled
        across the route's workers (a route's server is the controller's to use)."""
        if self.is_replay:
            return ReplaySpec(self.path, tokens_per_s=self.replay_tokens_per_s)
        if route is not None and route.workers:
            return PooledSpec(
                self.path,
                route.workers,
                n_ctx=settings.n_ctx or POOLED_CTX,
                tensor_split=route.split,
            )
        return LoadSpec(
            self.path,
            n_ctx=settings.n_ctx,
            n_gpu_layers=settings.gpu_layers,
            n_threads=settings.threads or None,
        )
