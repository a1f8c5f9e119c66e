"""Benchmark results: what one `ponder bench` measured, saved, reopened and exported.

Pure data (no engine): the runner in ``app.inference.bench`` fills it, the CLI prints it,
and the GUI's compare view reopens saved runs with ``list_runs`` / ``load_run``.
A run file is the JSON of ``BenchReport.to_json`` under ``<data>/bench/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.atomic import write_atomic
from app.core.errors import BadInputError
from app.core.paths import app_paths
from app.core.units import format_bytes

REPORT_VERSION = 1

# Per-model measures summarised as median and spread (name, unit shown in tables).
MEASURES: tuple[tuple[str, str], ...] = (
    ("load_s", "s"),
    ("ttft_s", "s"),
    ("first_answer_token_s", "s"),
    ("reasoning_tokens", "tok"),
    ("answer_tokens", "tok"),
    ("decode_tok_s", "tok/s"),
    ("prefill_tok_s", "tok/s"),
    ("peak_ram_bytes", "bytes"),
    ("peak_vram_bytes", "bytes"),
)
RUN_MEASURES = {"load_s", "peak_ram_bytes", "peak_vram_bytes"}  # one value per model load


@dataclass(frozen=True)
class Spread:
    """Median and range of one measure over the runs (``n`` values went in)."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class GenerationRecord:
    """One reply to one prompt: its timings, tokens and the judged answer."""

    prompt_id: str
    run: int
    prompt_tokens: int = 0
    ttft_s: float | None = None
    first_answer_token_s: float | None = None
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    decode_tok_s: float | None = None
    prefill_tok_s: float | None = None
    total_s: float = 0.0
    stop_reason: str = ""
    final_answer: str | None = None
    correct: bool | None = None
    check_detail: str = ""
    answer_text: str = ""
    reasoning_text: str = ""
    error: str | None = None
    # Think N ways (``ponder bench --samples N``): ``correct`` above is the majority's
    # answer; these say how many of the N samples were right on their own.
    samples: int = 1
    samples_correct: int | None = None

    @property
    def measured(self) -> bool:
        """A reply that ran its course: not failed, not cut off by Cancel. Only these count
        in the figures and are judged."""
        return not self.error and self.stop_reason != "stopped"


@dataclass
class RunRecord:
    """One load of the model in a fresh engine process, and its replies to the set."""

    run: int
    engine_pid: int | None = None
    load_s: float | None = None
    peak_ram_bytes: int | None = None
    peak_vram_bytes: int | None = None
    generations: list[GenerationRecord] = field(default_factory=list)


@dataclass
class ModelResult:
    path: str
    name: str
    file_bytes: int = 0
    quantization: str = ""
    backend: str = ""
    n_ctx: int = 0
    n_gpu_layers: int = 0
    vram_note: str = ""  # why peak VRAM is missing, when it is
    runs: list[RunRecord] = field(default_factory=list)
    error: str | None = None  # the model could not be benchmarked (the others still were)

    def values(self, measure: str) -> list[float]:
        if measure in RUN_MEASURES:
            raw = [getattr(r, measure) for r in self.runs]
        else:
            raw = [getattr(g, measure) for r in self.runs for g in r.generations if g.measured]
        return [float(v) for v in raw if v is not None]

    def summary(self) -> dict[str, Spread | None]:
        return {name: Spread.of(self.values(name)) for name, _ in MEASURES}

    def accuracy(self) -> tuple[int, int]:
        """(correct replies, replies with an answer key); for groups, the majority's."""
        judged = [g.correct for r in self.runs for g in r.generations if g.correct is not None]
        return sum(judged), len(judged)

    def sample_accuracy(self) -> tuple[int, int] | None:
        """Groups only: (samples right on their own, samples judged); None otherwise."""
        gens = [
            g
            for r in self.runs
            for g in r.generations
            if g.samples > 1 and g.samples_correct is not None
        ]
        if not gens:
            return None
        return sum(g.samples_correct or 0 for g in gens), sum(g.samples for g in gens)

    def answers(self) -> dict[str, dict[str, Any]]:
        """Per prompt: the most common final answer over the runs, and how often it was right."""
        out: dict[str, dict[str, Any]] = {}
        by_prompt: dict[str, list[GenerationRecord]] = {}
        for r in self.runs:
            for g in r.generations:
                if g.stop_reason != "stopped":
                    by_prompt.setdefault(g.prompt_id, []).append(g)
        for pid, gens in by_prompt.items():
            common = Counter(g.final_answer for g in gens).most_common(1)[0][0]
            judged = [g.correct for g in gens if g.correct is not None]
            out[pid] = {
                "final_answer": common,
                "correct": (sum(judged) / len(judged) >= 0.5) if judged else None,
                "correct_runs": sum(judged) if judged else None,
                "runs": len(gens),
            }
        return out


@dataclass
class BenchReport:
    prompt_set: str
    runs: int
    max_tokens: int
    seed: int
    created: str = field(
        default_factory=lambda: datetime.now().astimezone().isoformat("T", "seconds")
    )
    prompt_set_source: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    models: list[ModelResult] = field(default_factory=list)
    cancelled: bool = False
    prompts: dict[str, str] = field(default_factory=dict)  # prompt id -> the question asked

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["version"] = REPORT_VERSION
        for model, raw in zip(self.models, out["models"], strict=True):
            raw["summary"] = {
                k: None if v is None else asdict(v) for k, v in model.summary().items()
            }
            correct, judged = model.accuracy()
            raw["accuracy"] = {"correct": correct, "checked": judged}
            if (single := model.sample_accuracy()) is not None:
                raw["accuracy"]["majority"] = {"correct": correct, "checked": judged}
                raw["accuracy"]["single_sample"] = {"correct": single[0], "checked": single[1]}
            raw["answers"] = model.answers()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchReport:
        """The inverse of ``to_json`` (derived fields are recomputed, not read)."""
        models = []
        for m in data.get("models", []):
            runs = [
                RunRecord(
                    **{
                        **_known(RunRecord, r),
                        "generations": [
                            GenerationRecord(**_known(GenerationRecord, g))
                            for g in r.get("generations", [])
                        ],
                    }
                )
                for r in m.get("runs", [])
            ]
            models.append(ModelResult(**{**_known(ModelResult, m), "runs": runs}))
        return cls(**{**_known(cls, data), "models": models})


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# -- saving and reopening ----------------------------------------------------------------


def bench_dir() -> Path:
    return app_paths().data_dir / "bench"


def _slug(report: BenchReport) -> str:
    names = "-vs-".join(Path(m.path).stem for m in report.models[:3]) or "bench"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", names).strip("-")[:80].lower()


def save_report(report: BenchReport, folder: Path | None = None) -> Path:
    """Write the report as ``<timestamp>-<models>.json`` (never over an earlier one)."""
    folder = folder or bench_dir()
    stamp = datetime.fromisoformat(report.created).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stamp}-{_slug(report)}.json"
    n = 2
    while path.exists():
        path = folder / f"{stamp}-{_slug(report)}-{n}.json"
        n += 1
    write_atomic(path, json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n")
    return path


@dataclass(frozen=True)
class SavedRun:
    path: Path
    created: str
    prompt_set: str
    models: tuple[str, ...]


def list_runs(folder: Path | None = None) -> list[SavedRun]:
    """Saved runs, newest first; files that are not bench reports are skipped."""
    folder = folder or bench_dir()
    out = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        run = _saved_run(path)
        if run is not None:
            out.append(run)
    return sorted(out, key=lambda r: (r.created, r.path.name), reverse=True)


# A run file holds every reply's reasoning (megabytes for long R1 traces); the list only
# needs its summary, so each file is parsed once per change, not each time the list shows.
_summaries: dict[Path, tuple[int, int, SavedRun | None]] = {}


def _saved_run(path: Path) -> SavedRun | None:
    try:
        st = path.stat()
    except OSError:
        return None
    cached = _summaries.get(path)
    if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    run: SavedRun | None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(str(m["name"]) for m in data["models"])
        run = SavedRun(path, str(data["created"]), str(data["prompt_set"]), names)
    except (OSError, ValueError, KeyError, TypeError):
        run = None  # not a bench report
    _summaries[path] = (st.st_mtime_ns, st.st_size, run)
    return run


def load_run(path: Path) -> BenchReport:
    """Reopen a saved run.

    Raises:
        BadInputError: the file is missing or is not a Ponder bench report.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "models" not in data:
            raise ValueError("no models")
        return BenchReport.from_json(data)
    except FileNotFoundError:
        raise BadInputError(f"No bench run at {path}.", "Check the path.") from None
    except (OSError, ValueError, TypeError) as exc:
        raise BadInputError(
            f"{Path(path).name} is not a Ponder bench report.",
            "Open a file that `ponder bench` saved.",
        ) from exc


# -- exports -----------------------------------------------------------------------------


def format_measure(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    unit = dict(MEASURES).get(name, "")
    if unit == "bytes":
        return format_bytes(value)
    if unit == "tok":
        return f"{value:.0f}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.1f}"


def median_table(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per model: medians (with the range for speeds), and accuracy."""
    headers = [
        "Model",
        "Load",
        "TTFT",
        "1st answer",
        "Reasoning",
        "Answer",
        "Decode tok/s",
        "Prefill tok/s",
        "Peak RAM",
        "Peak VRAM",
        "Correct",
    ]
    rows = []
    for m in report.models:
        if m.error:
            rows.append([m.name, f"failed: {m.error}", *[""] * (len(headers) - 2)])
            continue
        summary = m.summary()
        cells = [m.name]
        for name, unit in MEASURES:
            s = summary[name]
            text = format_measure(name, s.median if s else None)
            if s and unit == "tok/s" and s.n > 1:
                text += f" ({s.min:.1f}-{s.max:.1f})"
            cells.append(text)
        correct, judged = m.accuracy()
        text = f"{correct}/{judged}" if judged else "-"
        if (single := m.sample_accuracy()) is not None and single[1]:
            text = (
                f"{text} by majority; {single[0]}/{single[1]} "
                f"({100 * single[0] / single[1]:.0f}%) single samples"
            )
        cells.append(text)
        rows.append(cells)
    return headers, rows


def to_markdown(report: BenchReport) -> str:
    headers, rows = median_table(report)
    lines = [
        f"# Ponder bench, {report.created}",
        "",
        f"Prompt set **{report.prompt_set}**, {report.runs} run(s) after a warm-up, "
        f"at most {report.max_tokens} tokens, seed {report.seed}."
        + (" Cancelled before the end." if report.cancelled else ""),
    ]
    if report.machine:
        lines.append(f"Machine: {machine_line(report.machine)}.")
    lines += ["", "Medians (decode and prefill with their range over runs).", ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    notes = {m.vram_note for m in report.models if m.vram_note}
    if notes:
        lines += ["", *(f"Peak VRAM: {n}" for n in sorted(notes))]
    return "\n".join(lines) + "\n"


def machine_line(machine: dict[str, Any]) -> str:
    gpus = ", ".join(str(g.get("name")) for g in machine.get("gpus", [])) or "no GPU"
    ram = format_bytes(float(machine.get("ram_total") or 0))
    return f"{machine.get('cpu_model', '?')}, {ram} RAM, {gpus}, llama.cpp {machine.get('backend')}"


CSV_RUN_FIELDS = ("engine_pid", "load_s", "peak_ram_bytes", "peak_vram_bytes")
CSV_GEN_FIELDS = tuple(
    f.name for f in fields(GenerationRecord) if f.name not in ("reasoning_text", "answer_text")
)


def to_csv(report: BenchReport) -> str:
    """One row per reply, with its model's load figures (texts left out: see the JSON)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "path", *CSV_RUN_FIELDS, *CSV_GEN_FIELDS])
    for m in report.models:
        for r in m.runs:
            for g in r.generations:
                writer.writerow(
                    [
                        m.name,
                        m.path,
                        *(_cell(getattr(r, k)) for k in CSV_RUN_FIELDS),
                        *(_cell(getattr(g, k)) for k in CSV_GEN_FIELDS),
                    ]
                )
    return buf.getvalue()


def _cell(value: object) -> object:
    return "" if value is None else value


def export_report(report: BenchReport, path: Path) -> None:
    """Write the report as CSV, Markdown or JSON, chosen by the file's extension.

    Raises:
        BadInputError: an extension other than .csv, .md or .json.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = to_csv(report)
    elif suffix in (".md", ".markdown"):
        text = to_markdown(report)
    elif suffix == ".json":
        text = json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"
    else:
        raise BadInputError(
            f"Cannot export a bench report as {suffix or 'a file without extension'}.",
            "Use a name ending in .csv, .md or .json.",
        )
    write_atomic(path, text)
