"""Messages between the engine client and the engine host process (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.units import R1_TEMPERATURE, R1_TOP_P

DEFAULT_MAX_TOKENS = 8192
MAX_SAMPLES = 16
# The context of a pooled model when nothing else says (llama-server takes no plan of ours).
POOLED_CTX = 4096
FORCE_ANSWER_TEXT = "\n</think>\n\n"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """How to load a GGUF. ``n_gpu_layers=-1`` and ``n_ctx=0`` ask the engine to plan them
    for this machine (``app.hardware.planner.plan_load``)."""

    model_path: str
    n_ctx: int = 0
    n_gpu_layers: int = 0
    n_threads: int | None = None
    flash_attn: bool = True
    use_mmap: bool = True


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """Replay recorded raw model text instead of running a model (see DESIGN.md)."""

    path: str
    tokens_per_s: float | None = None  # pace chunks like a model would (GUI benchmarks)


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """An OpenAI-compatible server to chat through (llama-server, vLLM, Ollama, DeepSeek's
    API...). ``api_key`` travels to the engine process in memory only, never to a file."""

    url: str
    model: str = ""  # the server's model id; "" takes the first it lists
    api_key: str = field(default="", repr=False)
    label: str = ""  # what stats call the backend ("endpoint", "pooled")


@dataclass(frozen=True, slots=True)
class PooledSpec:
    """A GGUF spread over worker machines running llama.cpp's rpc-server: Ponder starts
    llama-server on loopback with ``--rpc`` to them and chats through it."""

    model_path: str
    workers: tuple[str, ...]  # "host:port" of each rpc-server
    n_ctx: int = POOLED_CTX
    tensor_split: tuple[float, ...] = ()  # per worker; () lets llama.cpp use free memory


ModelSpec = LoadSpec | ReplaySpec | EndpointSpec | PooledSpec


@dataclass(frozen=True, slots=True)
class SamplingParams:
    temperature: float = R1_TEMPERATURE
    top_p: float = R1_TOP_P
    top_k: int = 40
    min_p: float = 0.05
    seed: int | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    think_budget: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False  # benchmarks only: generate exactly max_tokens


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    request_id: int
    model: ModelSpec
    messages: list[dict[str, str]]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    raw_prompt: str | None = None  # benchmarks: bypass the chat template
    # Group sampling: this many answers to the one prompt, decoded together (2..16).
    samples: int = 1


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


# Indices into the shared control array the client writes and the host polls per token.
CANCEL_SLOT = 0
ANSWER_NOW_SLOT = 1
# Written by the host, read by the client after a crash (a dying process sends nothing):
# whether the engine had yet to finish its first decode, and which CPU library it runs
# (1 + its index in ``native.cpu_variants()``; 0 for none).
PHASE_SLOT = 2
CPU_VARIANT_SLOT = 3
# Bumped by the host while the engine makes progress (tokens, prompt compute, loading); the
# client notices when it stops changing (a hung or stopped engine).
HEARTBEAT_SLOT = 4
N_SLOTS = 5
PHASE_IDLE = 0
PHASE_UNPROVEN = 1  # loading, or the first decode after a load: CPU kernels not yet run
PHASE_PROVEN = 2

# How often the host looks at its backend's progress and bumps the heartbeat.
HEARTBEAT_S = 0.5
