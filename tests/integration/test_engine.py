"""The real 270M GGUF through the real llama.cpp engine in its child process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.events import AnswerDelta, Done, ErrorEvent, Event, ReasoningDelta
from app.inference.client import EngineClient
from app.inference.protocol import LoadSpec, SamplingParams
from tests.integration.cli import ponder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATS_FIELDS = {
    "prompt_tokens",
    "prompt_eval_tokens",
    "reasoning_tokens",
    "answer_tokens",
    "ttft_s",
    "reasoning_s",
    "first_answer_token_s",
    "decode_tok_s",
    "prefill_tok_s",
    "total_s",
    "stop_reason",
    "backend",
}


@pytest.fixture
def client(ponder_home: Path) -> Iterator[EngineClient]:
    c = EngineClient(ponder_home / "logs" / "engine.log")
    yield c
    c.close()


@pytest.fixture
def spec(gemma_path: Path) -> LoadSpec:
    return LoadSpec(str(gemma_path), n_ctx=2048)


def collect(events: Iterator[Event], on_text: object = None) -> list[Event]:
    """All events; ``on_text(i, event)`` is called for the i-th text delta."""
    out: list[Event] = []
    for ev in events:
        if callable(on_text) and isinstance(ev, ReasoningDelta | AnswerDelta):
            on_text(sum(isinstance(e, ReasoningDelta | AnswerDelta) for e in out), ev)
        out.append(ev)
    return out


def test_chat_json_streams_events_and_full_stats(gemma_path: Path, ponder_home: Path) -> None:
    r = ponder(
        "chat",
        "-m",
        str(gemma_path),
        "-p",
        "Write a haiku about rain.",
        "--json",
        "--max-tokens",
        "64",
        "--seed",
        "1",
    )
    assert r.code == 0, r.stderr
    kinds = [e["event"] for e in r.events]
    assert kinds[-1] == "done" and "answer" in kinds
    stats = r.events[-1]["stats"]
    assert stats.keys() >= STATS_FIELDS
    assert stats["backend"] == "CPU"
    assert stats["prompt_tokens"] > 0 and stats["answer_tokens"] > 0
    assert stats["stop_reason"] in ("eos", "length")
    # llama.cpp's own log went to the engine log, not the user's terminal.
    assert "llama_model_loader" not in r.stderr
    assert "llama_model_loader" in (ponder_home / "logs" / "engine.log").read_text()


def test_same_seed_same_reply(gemma_path: Path) -> None:
    args = (
        "chat",
        "-m",
        str(gemma_path),
        "-p",
        "Name three colours.",
        "--json",
        "--max-tokens",
        "24",
        "--seed",
        "7",
    )
    first, second = ponder(*args), ponder(*args)
    assert first.text("answer") and first.text("answer") == second.text("answer")


def test_a_split_model_runs_from_its_first_part_and_matches_the_whole(
    gemma_path: Path, gemma_split: list[Path]
) -> None:
    """llama.cpp reads the other parts itself; the engine sizes the model from all of them
    (the fit plan) and the reply is the one the unsplit file gives."""
    args = ("-p", "Name three colours.", "--json", "--max-tokens", "24", "--seed", "7")
    whole = ponder("chat", "-m", str(gemma_path), *args)
    split = ponder("chat", "-m", str(gemma_split[0]), *args)
    assert split.code == 0, split.stderr
    assert split.text("answer") and split.text("answer") == whole.text("answer")
    later = ponder("chat", "-m", str(gemma_split[1]), *args)
    assert later.code == 2 and "open its first part" in later.stderr.lower()


def test_second_turn_reuses_the_cached_prompt(gemma_path: Path) -> None:
    r = ponder(
        "chat",
        "-m",
        str(gemma_path),
        "--json",
        "--max-tokens",
        "24",
        "--seed",
        "3",
        stdin="Tell me about the moon.\nAnd the sun?\n",
    )
    assert r.code == 0, r.stderr
    done = [e["stats"] for e in r.events if e["event"] == "done"]
    assert len(done) == 2
    assert done[0]["prompt_eval_tokens"] == done[0]["prompt_tokens"]
    turn2 = done[1]
    assert turn2["prompt_tokens"] > done[0]["prompt_tokens"]
    assert turn2["prompt_eval_tokens"] < turn2["prompt_tokens"] / 2


def test_cancel_mid_stream_keeps_the_partial_reply(client: EngineClient, spec: LoadSpec) -> None:
    def stop_after_five(i: int, ev: Event) -> None:
        if i == 5:
            client.cancel()

    events = collect(
        client.generate(
            spec,
            [],
            SamplingParams(seed=1, max_tokens=2000, ignore_eos=True),
            raw_prompt="Once upon a time",
        ),
        stop_after_five,
    )
    done = events[-1]
    assert isinstance(done, Done) and done.stats.stop_reason == "stopped"
    assert 5 <= done.stats.answer_tokens < 100
    assert any(isinstance(e, AnswerDelta) for e in events)


def test_killed_engine_is_reported_at_once_and_the_next_request_works(
    client: EngineClient, spec: LoadSpec
) -> None:
    killed_at: list[float] = []

    def kill_after_three(i: int, ev: Event) -> None:
        if i == 3 and client.pid:
            os.kill(client.pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

    events = collect(
        client.generate(
            spec,
            [],
            SamplingParams(seed=1, max_tokens=2000, ignore_eos=True),
            raw_prompt="Count to fifty: 1, 2,",
        ),
        kill_after_three,
    )
    reported_at = time.monotonic()
    err = events[-1]
    assert isinstance(err, ErrorEvent) and err.kind == "engine_crashed"
    assert "killed" in err.message and "conversation is safe" in err.hint
    assert reported_at - killed_at[0] < 1.0
    again = collect(
        client.generate(
            spec, [{"role": "user", "content": "Hello"}], SamplingParams(seed=1, max_tokens=8)
        )
    )
    assert isinstance(again[-1], Done) and again[-1].stats.load_s is not None


def test_answer_now_ends_reasoning_and_the_model_answers(
    client: EngineClient, spec: LoadSpec
) -> None:
    """The 270M model does not think by itself; a raw prompt that opens <think> makes its
    output reasoning, which is what answer-now acts on."""

    def answer_now_after_four(i: int, ev: Event) -> None:
        if i == 4:
            client.answer_now()

    events = collect(
        client.generate(
            spec,
            [],
            SamplingParams(seed=2, max_tokens=40, ignore_eos=True),
            raw_prompt="Question: what is 6*7?\n<think>\n",
        ),
        answer_now_after_four,
    )
    done = events[-1]
    assert isinstance(done, Done)
    assert done.stats.thinking_ended_by == "answer_now"
    assert 4 <= done.stats.reasoning_tokens < 40
    assert done.stats.answer_tokens > 0
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, AnswerDelta))
    assert not any(isinstance(e, ReasoningDelta) for e in events[first_answer:])


def test_think_budget_on_the_real_engine(client: EngineClient, spec: LoadSpec) -> None:
    events = collect(
        client.generate(
            spec,
            [],
            SamplingParams(seed=2, max_tokens=30, think_budget=6, ignore_eos=True),
            raw_prompt="Puzzle: 2+2?\n<think>\n",
        )
    )
    done = events[-1]
    assert isinstance(done, Done)
    assert done.stats.reasoning_tokens == 6
    assert done.stats.thinking_ended_by == "think_budget"
    assert done.stats.stop_reason == "length"  # then the 30-token limit ended the answer


def test_a_follow_up_after_a_long_reply_matches_a_fresh_engine(
    client: EngineClient, spec: LoadSpec, ponder_home: Path
) -> None:
    """The 270M Gemma has sliding-window layers (512 tokens): after a reply longer than the
    window, the window no longer holds the shared prefix, so a follow-up (Regenerate, an
    edited question) must be evaluated from the start, and answers as a fresh engine does."""
    greedy = SamplingParams(temperature=0, max_tokens=24)
    long = SamplingParams(temperature=0, max_tokens=1200, ignore_eos=True)
    first = collect(client.generate(spec, [], long, raw_prompt="Once upon a time in Paris"))
    assert isinstance(first[-1], Done) and first[-1].stats.answer_tokens == 1200

    follow_up = collect(client.generate(spec, [], greedy, raw_prompt="Once upon a time in Rome"))
    fresh_client = EngineClient(ponder_home / "logs" / "engine-fresh.log")
    try:
        fresh = collect(
            fresh_client.generate(spec, [], greedy, raw_prompt="Once upon a time in Rome")
        )
    finally:
        fresh_client.close()

    def answer(events: list[Event]) -> str:
        return "".join(e.text for e in events if isinstance(e, AnswerDelta))

    assert answer(follow_up) and answer(follow_up) == answer(fresh)
    done = follow_up[-1]
    assert isinstance(done, Done)
    assert done.stats.prompt_eval_tokens == done.stats.prompt_tokens
