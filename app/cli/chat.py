"""`ponder chat`: stream a model's reasoning and answer to the terminal or as JSON Lines."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from app.cli.arg_types import (
    gpu_layers_arg,
    non_negative_int,
    positive_int,
    probability_arg,
    samples_arg,
    temperature_arg,
    workers_arg,
)
from app.cli.group_chat import print_group, run_group_turn
from app.cli.model_lookup import model_store
from app.cli.model_lookup import resolve_model as find_model
from app.cli.output import print_error, print_json, style
from app.core.conversation import Conversation
from app.core.errors import AppError, BadInputError, ModelFileError, exit_code_for
from app.core.events import (
    AnswerDelta,
    Done,
    EngineSilence,
    ErrorEvent,
    Event,
    GenerationStats,
    ReasoningDelta,
    event_to_json,
)
from app.core.gguf import GGUFHeader, read_model
from app.core.paths import app_paths
from app.core.units import R1_TEMPERATURE, R1_TOP_P, format_tokens
from app.hardware.workers import probe_workers
from app.inference.client import EngineClient
from app.inference.cpu_safety import CpuSafety
from app.inference.protocol import (
    DEFAULT_MAX_TOKENS,
    MAX_SAMPLES,
    POOLED_CTX,
    EndpointSpec,
    LoadSpec,
    ModelSpec,
    PooledSpec,
    ReplaySpec,
    SamplingParams,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("chat", help="chat with a model (streams reasoning and answer)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "-m",
        "--model",
        help="a .gguf file, a catalog id, or a name from `ponder models list`",
    )
    src.add_argument(
        "--replay",
        metavar="FILE.jsonl",
        help="replay recorded model text instead of running a model",
    )
    src.add_argument(
        "--engine",
        metavar="URL",
        help="chat through an OpenAI-compatible server (llama-server, vLLM, Ollama, "
        "DeepSeek's API...), e.g. http://127.0.0.1:8080",
    )
    p.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="with --engine: the environment variable holding the server's API key",
    )
    p.add_argument(
        "--engine-model",
        metavar="ID",
        default="",
        help="with --engine: the server's model id (default: the first it lists)",
    )
    p.add_argument(
        "--workers",
        type=workers_arg,
        metavar="HOST:PORT[,HOST:PORT...]",
        help="with -m: pool the model across machines running `ponder worker`",
    )
    p.add_argument("-p", "--prompt", help="the message (default: one turn per stdin line)")
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=DEFAULT_MAX_TOKENS,
        help=f"most tokens in the reply, reasoning included (default {DEFAULT_MAX_TOKENS:,})",
    )
    p.add_argument(
        "--temp", type=temperature_arg, default=R1_TEMPERATURE, help="temperature (R1: 0.6)"
    )
    p.add_argument(
        "--top-p", type=probability_arg, default=R1_TOP_P, help="nucleus sampling (R1: 0.95)"
    )
    p.add_argument("--seed", type=int, default=None, help="sampling seed, for repeatable runs")
    p.add_argument(
        "--ctx",
        type=non_negative_int,
        default=0,
        help="context size in tokens (default: the model's, at most 16384)",
    )
    p.add_argument(
        "--gpu-layers",
        default="auto",
        type=gpu_layers_arg,
        help="layers to offload to the GPU: a number, or auto (all when a GPU "
        "backend is compiled in)",
    )
    p.add_argument(
        "--think-budget",
        type=positive_int,
        default=None,
        metavar="N",
        help="after N reasoning tokens, make the model answer",
    )
    p.add_argument("--system", default="", help="system prompt (R1 works best without one)")
    p.add_argument(
        "--samples",
        type=samples_arg,
        default=1,
        metavar="N",
        help=f"think N ways (2-{MAX_SAMPLES}): sample N answers together, group them by final "
        "answer and vote (R1's training idea, at inference)",
    )
    p.add_argument(
        "--answer",
        metavar="REF",
        default=None,
        help="with --samples: the right answer; samples that match it are rewarded "
        "(default: the majority's answer)",
    )
    p.add_argument("--json", action="store_true", help="JSON Lines events on stdout")
    p.set_defaults(func=run)


def resolve_model(arg: str) -> tuple[Path, GGUFHeader]:
    """A model argument (a path, a catalog id, an installed model's name) to a loadable
    GGUF, validated before the engine sees it."""
    path = Path(arg).expanduser()
    if not path.exists():
        if path.suffix.lower() == ".gguf" or len(path.parts) > 1:
            raise ModelFileError(
                f"No model file at {arg}.",
                "Give the path to a .gguf file, a catalog id, or a name from `ponder models list`.",
            )
        path = find_model(arg, model_store(), None).path
    # The path stays as given, not resolved: llama.cpp finds a split model's other parts
    # by the first part's name, which a Hugging Face cache blob (named by its hash) lacks.
    return path.absolute(), read_model(path)


def load_spec(args: argparse.Namespace) -> LoadSpec:
    """The load request; the engine plans GPU layers and context when they are left auto."""
    path, _ = resolve_model(args.model)
    return LoadSpec(str(path), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)


def _turns(args: argparse.Namespace) -> Iterator[str]:
    if args.prompt is not None:
        yield args.prompt
        return
    if sys.stdin is not None and sys.stdin.isatty():
        sys.stderr.write("Type a message and press Enter (Ctrl+D to quit).\n")
        while True:
            try:
                sys.stderr.write("> ")  # not stdout: that may be JSON Lines for a pipe
                sys.stderr.flush()
                line = input()
            except EOFError:
                return
            if line.strip():
                yield line
    else:
        said = False
        try:
            for line in sys.stdin or ():  # None when the process has no stdin at all
                if line.strip():
                    said = True
                    yield line.rstrip("\n")
        except UnicodeDecodeError:
            raise BadInputError(
                "The input is not UTF-8 text.", "Convert it to UTF-8 and try again."
            ) from None
        if not said and args.replay:
            # The recorded reply does not depend on the message: play it once.
            yield ""
        elif not said:
            raise BadInputError(
                "There is no message: the input was empty.",
                'Give one with -p "...", or send one message per line on stdin.',
            )


class _TextPrinter:
    """Human-readable output: reasoning dimmed (or inside <think> when piped), then the answer."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.part: str | None = None

    def write(self, event: Event) -> None:
        if isinstance(event, ReasoningDelta):
            if self.part is None:
                self.out.write(
                    style("Thinking...\n", "2;3", self.out) if self.out.isatty() else "<think>\n"
                )
            self.part = "reasoning"
            self.out.write(style(event.text, "2", self.out))
        elif isinstance(event, AnswerDelta):
            if self.part == "reasoning":
                self.out.write("\n\n" if self.out.isatty() else "\n</think>\n\n")
            self.part = "answer"
            self.out.write(event.text)
        self.out.flush()

    def close_part(self) -> None:
        """End the reply's text (a turn ended, or failed): the next turn starts afresh."""
        if self.part == "reasoning" and not self.out.isatty():
            self.out.write("\n</think>")
        if self.part is not None:
            self.out.write("\n")
        self.part = None
        self.out.flush()

    def end(self, stats: GenerationStats) -> None:
        self.close_part()
        rate = f"{stats.decode_tok_s:.1f} tok/s" if stats.decode_tok_s else "-"
        thought = f" · thought {stats.reasoning_s:.1f} s" if stats.reasoning_s else ""
        why: str = stats.stop_reason
        if why == "length" and stats.limit == "context":
            why = "the context is full (raise --ctx)"
        sys.stderr.write(
            style(
                f"[{format_tokens(stats.generated_tokens)} · {rate}{thought} · "
                f"{stats.backend} · {why}]\n",
                "2",
                sys.stderr,
            )
        )


def _group_turn(
    args: argparse.Namespace,
    client: EngineClient,
    model: ModelSpec,
    conversation: Conversation,
    sampling: SamplingParams,
) -> int:
    """One turn of N samples; the majority's answer goes into the history."""
    on_tty = sys.stderr.isatty() and not args.json

    def progress(line: str) -> None:
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()

    turn = run_group_turn(
        client,
        model,
        conversation.prompt_messages(),
        sampling,
        args.samples,
        reference=args.answer,
        as_json=args.json,
        progress=progress if on_tty else None,
    )
    if on_tty:
        sys.stderr.write("\r\x1b[K")
    if turn.error is not None:
        print_error(AppError(turn.error.message, turn.error.hint))
        conversation.messages.pop()
        return exit_code_for(turn.error.kind)
    if not args.json:
        print_group(turn)
    chosen = turn.chosen()
    if chosen is None:
        conversation.messages.pop()
    else:
        conversation.add_assistant(*chosen)
    return 0


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError(
            "The message is not valid UTF-8 text.", "Check your terminal's encoding."
        ) from None


def run(args: argparse.Namespace) -> int:
    try:
        return _chat(args)
    except AppError as exc:
        if args.json:  # a script reading the events learns why there are none (or no more)
            print_json(event_to_json(ErrorEvent(exc.kind, exc.message, exc.hint)))
        raise  # ... and a person reads the same line on stderr


def _model_spec(args: argparse.Namespace) -> ModelSpec:
    if args.replay:
        if not Path(args.replay).is_file():
            raise BadInputError(f"No replay file at {args.replay}.", "Check the path.")
        return ReplaySpec(str(Path(args.replay).resolve()))
    if args.engine:
        if args.workers:
            raise BadInputError(
                "--workers pools a local model file; --engine is a server.", "Give one of them."
            )
        key = ""
        if args.api_key_env:
            key = os.environ.get(args.api_key_env, "")
            if not key:
                raise BadInputError(
                    f"The environment variable {args.api_key_env} is empty or not set.",
                    f"Set it to the server's API key: export {args.api_key_env}=...",
                )
        return EndpointSpec(args.engine, model=args.engine_model, api_key=key, label="endpoint")
    if args.workers:
        path, _ = resolve_model(args.model)
        return PooledSpec(
            str(path),
            tuple(args.workers),
            n_ctx=args.ctx or POOLED_CTX,
            tensor_split=split(args.workers),
        )
    return load_spec(args)


def split(workers: list[str]) -> tuple[float, ...]:
    """Shares of the model per worker when one lends less than it has free (``ponder
    worker --mem``); () lets llama.cpp split by free memory."""
    infos = probe_workers(workers)
    if all(w.offered_bytes is None for w in infos) or not all(w.reachable for w in infos):
        return ()
    return tuple(round(w.usable_bytes / 1e9, 3) for w in infos)


def _chat(args: argparse.Namespace) -> int:
    model = _model_spec(args)
    sampling = SamplingParams(
        temperature=args.temp,
        top_p=args.top_p,
        seed=args.seed,
        max_tokens=args.max_tokens,
        think_budget=args.think_budget,
    )
    paths = app_paths().ensure()
    client = EngineClient(paths.engine_log, cpu_safety=CpuSafety(paths.cpu_safety))
    conversation = Conversation(system=args.system)
    printer = None if args.json else _TextPrinter(sys.stdout)
    exit_code = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        # First Ctrl+C stops the reply; a second one quits.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        client.cancel()

    if args.answer is not None and args.samples < 2:
        raise BadInputError(
            "--answer is the reference for a group of answers.", "Add --samples N (2 or more)."
        )
    try:
        for text in _turns(args):
            signal.signal(signal.SIGINT, on_sigint)
            _check_text(text)
            conversation.add_user(text)
            if args.samples > 1:
                code = _group_turn(args, client, model, conversation, sampling)
                exit_code = code or exit_code
                continue
            failed = False
            reasoning: list[str] = []
            answer: list[str] = []
            for event in client.generate(model, conversation.prompt_messages(), sampling):
                if isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                elif isinstance(event, AnswerDelta):
                    answer.append(event.text)
                elif isinstance(event, EngineSilence):
                    if event.silent_s and not args.json:
                        sys.stderr.write(
                            f"\nponder: the engine has made no progress for "
                            f"{event.silent_s:.0f} s; Ctrl+C stops it.\n"
                        )
                    continue
                if args.json:
                    if not isinstance(event, ReasoningDelta | AnswerDelta | Done | ErrorEvent):
                        continue
                    print_json(event_to_json(event))
                elif printer is not None and isinstance(event, Done):
                    printer.end(event.stats)
                elif printer is not None:
                    printer.write(event)
                if isinstance(event, ErrorEvent):
                    if printer is not None:
                        printer.close_part()
                    print_error(AppError(event.message, event.hint))
                    exit_code = exit_code_for(event.kind)
                    failed = True
            if failed or not answer:
                # A turn that failed (or was stopped before answering) leaves no trace in
                # the history, or every later turn would repeat its failure.
                conversation.messages.pop()
            else:
                conversation.add_assistant("".join(answer), "".join(reasoning))
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        client.close()
    return exit_code
