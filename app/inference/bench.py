"""The benchmark runner: models one at a time, each load in a fresh engine process.

Qt-free so the CLI calls it directly and a Qt worker drives it from a thread: progress
goes to a plain ``on_event`` callback and a ``threading.Event`` stops it (the running reply
is cancelled at once; what was measured so far is kept, marked ``cancelled``).

Why a fresh engine process for every load: it is the only way to measure load time the way
a user meets it and to know that one model's memory is gone before the next one loads
(llama.cpp's allocator and the C heap do not give everything back to the OS). A warm-up
load and reply come first, so that run 1 does not pay for a cold disk cache alone.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.core.bench_report import BenchReport, GenerationRecord, ModelResult, RunRecord
from app.core.errors import AppError, ModelFileError
from app.core.events import AnswerDelta, Done, ErrorEvent, LiveStats, ReasoningDelta
from app.core.gguf import GGUFHeader, read_model, split_parts
from app.core.grouping import score_texts
from app.core.paths import app_paths
from app.core.prompt_sets import PromptItem, PromptSet, check_answer
from app.hardware.calibration import Calibration
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import shape_from_file
from app.inference.client import EngineClient
from app.inference.cpu_safety import CpuSafety
from app.inference.peak_memory import SAMPLE_INTERVAL_S, PeakMemory, vram_note
from app.inference.protocol import LoadSpec, ReplaySpec, SamplingParams
from app.inference.system import machine_snapshot

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 2.0  # then the bench's engine is terminated, loading or not
WARMUP_MAX_TOKENS = 16
REPLAY_SUFFIX = ".jsonl"  # recorded model output played by the replay backend

Phase = Literal["load", "warmup", "generate", "done"]


@dataclass(frozen=True)
class BenchProgress:
    """Where the bench is: sent when a load starts, a few times a second while a reply
    streams (``tokens`` so far), and once per finished reply (``record`` set)."""

    model_index: int  # 1-based
    n_models: int
    model: str
    phase: Phase
    run: int  # 0 for the warm-up
    n_runs: int
    prompt_index: int  # 1-based, 0 while loading
    n_prompts: int
    prompt_id: str = ""
    tokens: int = 0
    decode_tok_s: float | None = None
    record: GenerationRecord | None = None


@dataclass(frozen=True)
class ModelFinished:
    """One model is done (or failed: ``result.error``); the report so far is in ``report``."""

    model_index: int
    result: ModelResult


BenchEvent = BenchProgress | ModelFinished


def check_models(models: Sequence[str | Path]) -> list[tuple[Path, GGUFHeader | None]]:
    """Every model file validated before any runs, so a typo fails at once, not an hour in.
    A replay file (``.jsonl``, see DESIGN.md) stands in for a model and has no header.

    Raises:
        ModelFileError: a file is missing, not a GGUF, or cannot load.
    """
    out: list[tuple[Path, GGUFHeader | None]] = []
    for m in models:
        path = Path(m).expanduser()
        if not path.is_file():
            raise ModelFileError(f"No model file at {m}.", "Give the path to a .gguf file.")
        # Absolute, not resolved: a Hugging Face cache's file is a link to a blob named by
        # its hash, and the report should name the model, as the caller does.
        if path.suffix == REPLAY_SUFFIX:
            out.append((path.absolute(), None))
            continue
        header = read_model(path)
        out.append((path.absolute(), header))
    return out


def run_bench(
    models: Sequence[str | Path],
    prompts: PromptSet,
    *,
    runs: int = 3,
    max_tokens: int = 4096,
    seed: int = 0,
    on_event: Callable[[BenchEvent], None] | None = None,
    cancel: threading.Event | None = None,
    n_ctx: int = 0,
    gpu_layers: int = -1,
    hardware: HardwareSnapshot | None = None,
    record_calibration: bool = True,
    samples: int = 1,
) -> BenchReport:
    """Benchmark ``models`` on ``prompts``: per model a warm-up, then ``runs`` loads, each
    answering every prompt with the same seed. Decode rates are recorded in this machine's
    speed calibration after each model (``record_calibration``). ``samples > 1`` answers
    each prompt by a group of that many samples (think N ways): the majority's answer is
    judged, and each sample's too.

    Raises:
        ModelFileError: a model file is missing or invalid (checked before anything runs).
    """
    checked = check_models(models)
    hw = hardware or machine_snapshot()
    cancel = cancel or threading.Event()
    emit = on_event or (lambda event: None)
    report = BenchReport(
        prompt_set=prompts.name,
        runs=runs,
        max_tokens=max_tokens,
        seed=seed,
        prompt_set_source=prompts.source,
        prompts={item.id: item.prompt for item in prompts.items},
        machine={
            k: v
            for k, v in hw.to_json().items()
            if k in ("cpu_model", "logical_cores", "ram_total", "gpus", "backend", "cpu_bandwidth")
        },
    )
    for index, (path, header) in enumerate(checked, 1):
        if cancel.is_set():
            break
        bench = _ModelBench(
            index,
            len(checked),
            path=path,
            prompts=prompts,
            runs=runs,
            max_tokens=max_tokens,
            seed=seed,
            emit=emit,
            cancel=cancel,
            hw=hw,
            samples=samples,
        )
        spec: LoadSpec | ReplaySpec = (
            LoadSpec(str(path), n_ctx=n_ctx, n_gpu_layers=gpu_layers)
            if header is not None
            else ReplaySpec(str(path))
        )
        result = bench.run(spec, header)
        report.models.append(result)
        # A group's aggregate rate is not one reply's: it must not calibrate predictions.
        if record_calibration and header is not None and not result.error and samples == 1:
            try:
                _calibrate(hw, path, header, result)
            except (AppError, OSError) as exc:  # the run itself must not be lost for it
                log.warning("speed calibration not saved: %s", exc)
        emit(ModelFinished(index, result))
    report.cancelled = cancel.is_set()
    return report


def _calibrate(hw: HardwareSnapshot, path: Path, header: GGUFHeader, result: ModelResult) -> None:
    gens = [
        g for r in result.runs for g in r.generations if g.measured and g.decode_tok_s is not None
    ]
    if not gens:
        return
    depth = statistics.median(
        g.prompt_tokens + (g.reasoning_tokens + g.answer_tokens) // 2 for g in gens
    )
    shape = shape_from_file(path, header)
    # With each reply's length: the calibration ignores replies too short to measure.
    Calibration.load().record(
        hw,
        shape,
        result.n_gpu_layers,
        [g.decode_tok_s for g in gens if g.decode_tok_s is not None],
        int(depth),
        tokens=[g.reasoning_tokens + g.answer_tokens for g in gens],
    )


class _CancelWatch:
    """Passes a cancel to the engine even while it loads a model, when no event comes
    back to notice it by (a 40 GB load takes minutes)."""

    def __init__(self, cancel: threading.Event, client: EngineClient) -> None:
        self._cancel, self._client = cancel, client
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cancel", daemon=True)

    def __enter__(self) -> _CancelWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(SAMPLE_INTERVAL_S):
            if self._cancel.is_set() and self._client.cancel():
                return  # a reply was running and is being stopped


class _ModelBench:
    """One model's warm-up and runs (state shared by the steps, nothing more)."""

    def __init__(
        self,
        index: int,
        n_models: int,
        *,
        path: Path,
        prompts: PromptSet,
        runs: int,
        max_tokens: int,
        seed: int,
        emit: Callable[[BenchEvent], None],
        cancel: threading.Event,
        hw: HardwareSnapshot,
        samples: int = 1,
    ) -> None:
        self.index, self.n_models, self.path = index, n_models, path
        self.samples = samples
        self.prompts, self.runs, self.max_tokens, self.seed = prompts, runs, max_tokens, seed
        self.emit, self.cancel, self.hw = emit, cancel, hw
        self.note = vram_note(hw)
        paths = app_paths().ensure()
        self.log = paths.engine_log
        self.cpu_safety = CpuSafety(paths.cpu_safety)
        self.load_s: float | None = None  # of the current load, from its first reply's stats
        self.placement: tuple[str, int, int] | None = None  # backend, context, GPU layers

    def progress(self, phase: Phase, run: int, prompt_index: int = 0, **kw: object) -> None:
        item = self.prompts.items[prompt_index - 1] if prompt_index else None
        self.emit(
            BenchProgress(
                self.index,
                self.n_models,
                self.path.name,
                phase,
                run,
                self.runs,
                prompt_index,
                len(self.prompts.items),
                item.id if item else "",
                **kw,  # type: ignore[arg-type]
            )
        )

    def run(self, spec: LoadSpec | ReplaySpec, header: GGUFHeader | None) -> ModelResult:
        result = ModelResult(
            path=str(self.path),
            name=self.path.name,
            file_bytes=sum(
                p.stat().st_size
                for p in (split_parts(self.path, header) if header is not None else [self.path])
            ),
            quantization=header.quantization if header is not None else "replay",
            vram_note=self.note,
        )
        warm = self.one_load(
            spec, 0, self.prompts.items[:1], min(self.max_tokens, WARMUP_MAX_TOKENS)
        )
        if error := self.load_error(warm):
            result.error = error
            return result
        for run in range(1, self.runs + 1):
            if self.cancel.is_set():
                break
            record = self.one_load(spec, run, self.prompts.items, self.max_tokens)
            if error := self.load_error(record):
                if not result.runs:
                    result.error = error
                    return result
                # The runs before it are measured and stay (the model loaded then).
                log.warning("%s: run %d could not load: %s", self.path.name, run, error)
                break
            if not record.generations:
                break  # cancelled before its first reply: nothing measured
            result.runs.append(record)
        if self.placement is not None:
            result.backend, result.n_ctx, result.n_gpu_layers = self.placement
        return result

    @staticmethod
    def load_error(record: RunRecord) -> str | None:
        """Why the load failed (the first reply's error), None when it loaded."""
        first = record.generations[0] if record.generations else None
        if first is not None and first.error and record.load_s is None:
            return first.error
        return None

    def one_load(
        self, spec: LoadSpec | ReplaySpec, run: int, items: Sequence[PromptItem], max_tokens: int
    ) -> RunRecord:
        # A bench's engine is its own: on cancel it may be ended soon, mid-load included.
        client = EngineClient(self.log, cancel_grace_s=CANCEL_GRACE_S, cpu_safety=self.cpu_safety)
        self.load_s = None
        try:
            client.start()
            record = RunRecord(run=run, engine_pid=client.pid)
            self.progress("load", run)
            with (
                PeakMemory(client.pid or 0, measure_vram=not self.note) as memory,
                _CancelWatch(self.cancel, client),
            ):
                for i, item in enumerate(items, 1):
                    if self.cancel.is_set():
                        break
                    gen = self.generate(
                        client, spec, run=run, index=i, item=item, max_tokens=max_tokens
                    )
                    record.generations.append(gen)
                    if gen.error:
                        break  # the engine may be gone; the next run starts a fresh one
            record.peak_ram_bytes = memory.peak_ram
            record.peak_vram_bytes = memory.peak_vram
            record.load_s = self.load_s
            return record
        finally:
            client.close()

    @staticmethod
    def _judge_group(gen: GenerationRecord, item: PromptItem, texts: list[str]) -> None:
        """A group's reply: the majority's answer is judged (and kept as the reply's text),
        and each sample's on its own."""
        result = score_texts(texts)
        first = result.groups[0].samples[0] if result.groups else 0
        gen.answer_text = texts[first] if texts else ""
        checks = [check_answer(item, text) for text in texts]
        gen.final_answer = result.majority
        gen.correct = (
            checks[first].correct
            if result.majority is not None
            else (False if checks and checks[0].correct is not None else None)
        )
        gen.check_detail = f"{result.summary()}; " + checks[first].detail if checks else ""
        judged = [c.correct for c in checks if c.correct is not None]
        gen.samples_correct = sum(judged) if judged else None

    def generate(
        self,
        client: EngineClient,
        spec: LoadSpec | ReplaySpec,
        *,
        run: int,
        index: int,
        item: PromptItem,
        max_tokens: int,
    ) -> GenerationRecord:
        phase: Phase = "warmup" if run == 0 else "generate"
        sampling = SamplingParams(seed=self.seed, max_tokens=max_tokens)
        reasoning: list[str] = []
        answer: list[str] = []
        per_sample: dict[int, list[str]] = {}
        gen = GenerationRecord(prompt_id=item.id, run=run, samples=self.samples)
        messages = [{"role": "user", "content": item.prompt}]
        for event in client.generate(spec, messages, sampling, samples=self.samples):
            if self.cancel.is_set():
                client.cancel()
            if isinstance(event, ReasoningDelta):
                if event.sample is None:
                    reasoning.append(event.text)
            elif isinstance(event, AnswerDelta):
                if event.sample is None:
                    answer.append(event.text)
                else:
                    per_sample.setdefault(event.sample, []).append(event.text)
            elif isinstance(event, LiveStats):
                self.progress(
                    phase,
                    run,
                    index,
                    tokens=event.generated_tokens,
                    decode_tok_s=event.decode_tok_s,
                )
            elif isinstance(event, ErrorEvent):
                gen.error = f"{event.message} {event.hint}".strip()
            elif isinstance(event, Done):
                s = event.stats
                if s.load_s is not None:
                    self.load_s = s.load_s
                self.placement = (s.backend, s.n_ctx, s.n_gpu_layers)
                gen.prompt_tokens, gen.ttft_s = s.prompt_tokens, s.ttft_s
                gen.first_answer_token_s = s.first_answer_token_s
                gen.reasoning_tokens, gen.answer_tokens = s.reasoning_tokens, s.answer_tokens
                gen.decode_tok_s, gen.prefill_tok_s = s.decode_tok_s, s.prefill_tok_s
                gen.total_s, gen.stop_reason = s.total_s, s.stop_reason
        gen.reasoning_text, gen.answer_text = "".join(reasoning), "".join(answer)
        if per_sample and gen.measured:
            self._judge_group(
                gen, item, ["".join(per_sample.get(i, [])) for i in range(self.samples)]
            )
        elif gen.measured:  # a reply cut off by Cancel is not judged: it was not allowed to end
            checked = check_answer(item, gen.answer_text)
            gen.final_answer, gen.correct, gen.check_detail = (
                checked.final_answer,
                checked.correct,
                checked.detail,
            )
        tokens = gen.reasoning_tokens + gen.answer_tokens
        self.progress(phase, run, index, tokens=tokens, decode_tok_s=gen.decode_tok_s, record=gen)
        return gen
