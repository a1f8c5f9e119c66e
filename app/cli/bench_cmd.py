"""`ponder bench MODEL...`: compare models on this machine with checkable prompts.

Progress goes to stderr while it runs (a live line on a terminal, one line per reply when
piped), results to stdout: a table of medians, or one JSON document with ``--json``.
Every run is saved under the data folder so it can be listed (``--list``) and reopened
(``--open FILE``), here or in the app.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli.arg_types import gpu_layers_arg, non_negative_int, positive_int, samples_arg
from app.cli.model_lookup import model_store, resolve_model
from app.cli.output import print_json
from app.core.bench_report import (
    BenchReport,
    export_report,
    list_runs,
    load_run,
    machine_line,
    median_table,
    save_report,
)
from app.core.errors import BadInputError
from app.core.prompt_sets import DEFAULT_SET, PromptSet, builtin_sets, load_prompt_set
from app.core.units import format_tokens
from app.inference.bench import BenchEvent, ModelFinished, run_bench

DEFAULT_RUNS = 3
DEFAULT_BENCH_TOKENS = 4096


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark models one at a time on checkable prompts",
        description="Run each model in turn (one loaded at a time): a warm-up, then N runs of "
        "the prompt set with a fixed seed; report medians and spreads of load time, time to "
        "first token and answer, tokens, decode and prefill speed, peak memory, and answers.",
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="a .gguf path, a catalog id or a name from `ponder models list`",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--prompt-set",
        default=None,
        metavar="NAME|FILE",
        help=f"built-in set ({', '.join(builtin_sets())}; default {DEFAULT_SET}) or a JSON file",
    )
    src.add_argument("-p", "--prompt", help="one prompt of your own instead of a set")
    p.add_argument("--runs", type=positive_int, default=DEFAULT_RUNS, help="runs after the warm-up")
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=DEFAULT_BENCH_TOKENS,
        help=f"most tokens per reply, reasoning included (default {DEFAULT_BENCH_TOKENS:,})",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed, the same for every run")
    p.add_argument("--ctx", type=non_negative_int, default=0, help="context (default: planned)")
    p.add_argument("--gpu-layers", type=gpu_layers_arg, default=-1, help="a number, or auto")
    p.add_argument("--export", metavar="FILE", help="also write the report as .csv, .md or .json")
    p.add_argument("--no-save", action="store_true", help="do not keep the run in the data folder")
    p.add_argument("--list", action="store_true", help="list saved runs and exit")
    p.add_argument("--open", metavar="FILE", help="show a saved run again and exit")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument(
        "--samples",
        type=samples_arg,
        default=1,
        metavar="N",
        help="answer each prompt by a group of N samples (think N ways) and report the "
        "majority's correctness beside each single sample's",
    )
    p.set_defaults(func=run)


class ProgressPrinter:
    """Bench events as lines on stderr: a redrawn live line on a terminal, and one line
    per finished reply and per model either way."""

    def __init__(self, stream: Any = None) -> None:
        self.out = stream or sys.stderr
        self.live = self.out.isatty()
        self._drawn = False

    def __call__(self, event: BenchEvent) -> None:
        if isinstance(event, ModelFinished):
            self._line(self._model_done(event))
            return
        where = f"[{event.model_index}/{event.n_models}] {event.model}"
        run = "warm-up" if event.run == 0 else f"run {event.run}/{event.n_runs}"
        if event.phase == "load":
            self._line(f"{where} {run}: loading")
            return
        prompt = f"prompt {event.prompt_index}/{event.n_prompts} {event.prompt_id}"
        rate = f", {event.decode_tok_s:.1f} tok/s" if event.decode_tok_s else ""
        text = f"{where} {run} {prompt}: {format_tokens(event.tokens)}{rate}"
        if event.record is None:
            if self.live:
                self.out.write("\r" + text + "\033[K")
                self.out.flush()
                self._drawn = True
            return
        g = event.record
        if g.error:
            text += f", failed: {g.error}"
        elif g.correct is not None and event.run:  # the warm-up is not judged
            text += f", {'correct' if g.correct else 'wrong'} ({g.check_detail})"
        self._line(text)

    def _model_done(self, event: ModelFinished) -> str:
        r = event.result
        if r.error:
            return f"[{event.model_index}] {r.name}: failed: {r.error}"
        decode = r.summary()["decode_tok_s"]
        correct, judged = r.accuracy()
        return (
            f"[{event.model_index}] {r.name}: done"
            + (f", decode {decode.median:.1f} tok/s median" if decode else "")
            + (f", {correct}/{judged} correct" if judged else "")
        )

    def _line(self, text: str) -> None:
        self.out.write(
            ("\r" if self._drawn else "") + text + ("\033[K" if self.live else "") + "\n"
        )
        self.out.flush()
        self._drawn = False


def print_table(report: BenchReport) -> None:
    headers, rows = median_table(report)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for m in report.models:
        answers = m.answers()
        if answers:
            print(f"\n{m.name} answers:")
        for pid, a in answers.items():
            verdict = "" if a["correct"] is None else f"  ({a['correct_runs']}/{a['runs']} right)"
            shown = (a["final_answer"] or "-").replace("\n", " ")
            print(f"  {pid:<16} {shown[:60]}{verdict}")
    print(f"\nMedians over {report.runs} run(s); speeds with their range. ", end="")
    print(f"Prompt set {report.prompt_set}.")
    if report.machine:
        print(f"Machine: {machine_line(report.machine)}.")
    for note in sorted({m.vram_note for m in report.models if m.vram_note}):
        print(f"Peak VRAM {note}")


def _model_path(arg: str) -> Path:
    """A model argument as `ponder chat` takes it: a path, or a catalog id or name from
    `ponder models list` (a replay .jsonl is a path)."""
    path = Path(arg).expanduser()
    if path.is_file() or path.suffix in (".gguf", ".jsonl"):
        return path  # a path: a missing one is named by the check before the runs
    return resolve_model(arg, model_store(), None).path


def _show(report: BenchReport, args: argparse.Namespace, saved: Path | None) -> None:
    if args.export:
        export_report(report, Path(args.export).expanduser())
    if args.json:
        out = report.to_json()
        if saved is not None:
            out["saved"] = str(saved)
        print_json(out)
        return
    print_table(report)
    if saved is not None:
        print(f"Saved to {saved}")


def _list(args: argparse.Namespace) -> int:
    saved = list_runs()
    if args.json:
        print_json(
            [
                {"path": str(r.path), "created": r.created, "prompt_set": r.prompt_set}
                | {"models": list(r.models)}
                for r in saved
            ]
        )
        return 0
    if not saved:
        print("No saved bench runs yet; `ponder bench MODEL...` makes one.")
    for r in saved:
        print(f"{r.created}  {r.prompt_set:<10} {', '.join(r.models)}\n    {r.path}")
    return 0


def _prompts(args: argparse.Namespace) -> PromptSet:
    if args.prompt is not None:
        return PromptSet.single(args.prompt)
    return load_prompt_set(args.prompt_set or DEFAULT_SET)


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    if args.open:
        _show(load_run(Path(args.open).expanduser()), args, None)
        return 0
    if not args.models:
        raise BadInputError("Name at least one model to benchmark.", "ponder bench MODEL.gguf")
    if args.export and Path(args.export).suffix.lower() not in (".csv", ".md", ".json"):
        raise BadInputError(
            f"Cannot export a bench report as {args.export}.",
            "Use a name ending in .csv, .md or .json.",
        )
    if args.export and not Path(args.export).expanduser().parent.is_dir():
        raise BadInputError(  # said now, not after an hour of benchmarking
            f"The folder of {args.export} does not exist.", "Export into an existing folder."
        )
    prompts = _prompts(args)
    models = [_model_path(m) for m in args.models]
    cancel = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        # First Ctrl+C stops the bench after keeping what was measured; a second one quits.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stderr.write("\nponder: stopping the bench (Ctrl+C again to quit now)\n")
        cancel.set()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        report = run_bench(
            models,
            prompts,
            runs=args.runs,
            max_tokens=args.max_tokens,
            seed=args.seed,
            on_event=ProgressPrinter(),
            cancel=cancel,
            n_ctx=args.ctx,
            gpu_layers=args.gpu_layers,
            samples=args.samples,
        )
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    saved = None if args.no_save or not report.models else save_report(report)
    _show(report, args, saved)
    if report.cancelled:
        return 130
    return 1 if any(m.error for m in report.models) else 0
