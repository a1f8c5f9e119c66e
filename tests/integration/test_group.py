"""Think N ways: N answers sampled together by the real engine, then grouped and scored.

The real 270M through the real engine process for the batched sampling; a recorded R1-style
group (replay) for the vote, since the 270M is a base model whose answers do not agree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.events import AnswerDelta, Done, Event, ReasoningDelta, SampleDone
from app.inference.client import EngineClient
from app.inference.protocol import LoadSpec, SamplingParams
from tests.integration.cli import ponder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMPT = "Once upon a time"


@pytest.fixture
def client(ponder_home: Path) -> Iterator[EngineClient]:
    c = EngineClient(ponder_home / "logs" / "engine.log")
    yield c
    c.close()


def _texts(events: list[Event]) -> dict[int, str]:
    out: dict[int, str] = {}
    for e in events:
        if isinstance(e, ReasoningDelta | AnswerDelta):
            assert e.sample is not None
            out[e.sample] = out.get(e.sample, "") + e.text
    return out


def test_four_samples_from_one_prompt_evaluation_differ(
    client: EngineClient, gemma_path: Path
) -> None:
    sampling = SamplingParams(temperature=0.9, max_tokens=40, seed=11, ignore_eos=True)
    events = list(
        client.generate(
            LoadSpec(str(gemma_path), n_ctx=1024), [], sampling, raw_prompt=PROMPT, samples=4
        )
    )
    done = events[-1]
    assert isinstance(done, Done), done
    texts = _texts(events)
    assert sorted(texts) == [0, 1, 2, 3]
    assert len(set(texts.values())) == 4, texts  # four seeds, four replies
    # One prompt evaluation for the four: the prompt's tokens were evaluated once.
    assert done.stats.samples == 4
    assert done.stats.prompt_eval_tokens == done.stats.prompt_tokens > 0
    per = [e for e in events if isinstance(e, SampleDone)]
    assert sorted(p.sample for p in per) == [0, 1, 2, 3]
    assert all(p.stats.answer_tokens == 40 for p in per)
    assert done.stats.answer_tokens == 160
    assert sorted(p.stats.seed for p in per if p.stats.seed is not None) == [11, 12, 13, 14]

    # The same seeds give the same four replies again (each sample has its own sampler).
    again = _texts(
        list(
            client.generate(
                LoadSpec(str(gemma_path), n_ctx=1024), [], sampling, raw_prompt=PROMPT, samples=4
            )
        )
    )
    assert again == texts


def test_a_cancelled_group_keeps_what_each_sample_wrote(
    client: EngineClient, gemma_path: Path
) -> None:
    sampling = SamplingParams(temperature=0.8, max_tokens=4000, seed=5, ignore_eos=True)
    events: list[Event] = []
    stopper: threading.Timer | None = None
    for event in client.generate(
        LoadSpec(str(gemma_path), n_ctx=1024), [], sampling, raw_prompt=PROMPT, samples=3
    ):
        events.append(event)
        texts = _texts(events)
        if stopper is None and len(texts) == 3 and all(len(t) > 20 for t in texts.values()):
            stopper = threading.Timer(0.2, client.cancel)
            stopper.start()
    done = events[-1]
    assert isinstance(done, Done) and done.stats.stop_reason == "stopped"
    per = {e.sample: e.stats for e in events if isinstance(e, SampleDone)}
    assert sorted(per) == [0, 1, 2]
    texts = _texts(events)
    for i in range(3):
        assert len(texts[i]) > 20  # kept
        assert per[i].stop_reason == "stopped"
        assert 0 < per[i].answer_tokens < 4000


def _write_group(path: Path, answers: list[str]) -> None:
    lines = [json.dumps({"prompt": "<｜User｜>What is 6*7?<｜Assistant｜><think>\n"})]
    for i, answer in enumerate(answers):
        for chunk in (f"Sample {i}: six sevens. ", "\n</think>\n\n", f"So $\\boxed{{{answer}}}$."):
            lines.append(json.dumps({"chunk": chunk, "sample": i}))
    path.write_text("\n".join(lines) + "\n")


def test_cli_json_has_sample_events_one_group_event_and_one_done(tmp_path: Path) -> None:
    replay = tmp_path / "group.jsonl"
    _write_group(replay, ["42", "42", "41", "\\frac{84}{2}", "42", "7"])
    r = ponder("chat", "--replay", str(replay), "-p", "What is 6*7?", "--samples", "6", "--json")
    assert r.code == 0, r.stderr
    events = r.events
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["group", "done"] and kinds.count("group") == 1
    text_events = [e for e in events if e["event"] in ("reasoning", "answer")]
    assert {e["sample"] for e in text_events} == set(range(6))
    group = events[-2]
    assert group["majority"] == "42"
    assert group["groups"][0] == {"answer": "42", "count": 4, "samples": [0, 1, 3, 4]}
    assert group["rewards"] == [1, 1, 0, 1, 1, 0]
    # GRPO: (r - mean) / std with mean 2/3 and std sqrt(2)/3.
    assert group["advantages"][0] == pytest.approx(0.7071, abs=1e-3)
    assert group["advantages"][2] == pytest.approx(-1.4142, abs=1e-3)
    stats = events[-1]["stats"]
    assert stats["samples"] == 6 and len(stats["per_sample"]) == 6
    assert stats["reasoning_tokens"] + stats["answer_tokens"] == sum(
        p["reasoning_tokens"] + p["answer_tokens"] for p in stats["per_sample"]
    )

    with_ref = ponder(
        "chat", "--replay", str(replay), "-p", "6*7?", "--samples", "6", "--answer", "41", "--json"
    )
    assert with_ref.events[-2]["rewards"] == [0, 0, 1, 0, 0, 0]


def test_cli_text_shows_each_answer_and_the_vote(tmp_path: Path) -> None:
    replay = tmp_path / "group.jsonl"
    _write_group(replay, ["42", "42", "41", "42"])
    r = ponder("chat", "--replay", str(replay), "-p", "What is 6*7?", "--samples", "4")
    assert r.code == 0, r.stderr
    assert "Sample 3: 41" in r.stdout
    assert "3 of 4 samples agree: 42" in r.stdout


def test_samples_out_of_range_and_answer_without_samples_are_one_clear_line(
    tmp_path: Path,
) -> None:
    replay = tmp_path / "group.jsonl"
    _write_group(replay, ["1", "1"])
    too_many = ponder("chat", "--replay", str(replay), "-p", "x", "--samples", "40")
    assert too_many.code == 2 and "between 1 and 16" in too_many.stderr
    lonely = ponder("chat", "--replay", str(replay), "-p", "x", "--answer", "1")
    assert lonely.code == 2 and "--samples" in lonely.stderr
    assert "Traceback" not in too_many.stderr + lonely.stderr
