"""A group reply as the chat keeps it: which sample is the reply, votes, saved form."""

from __future__ import annotations

import json

from app.core.events import GenerationStats
from app.core.group_reply import GroupReply, GroupSample, LiveGroup, plain_math


def group(*answers: str) -> GroupReply:
    return GroupReply(
        tuple(GroupSample(f"thinking {i}", a) for i, a in enumerate(answers))
    ).with_default_choice()


def test_the_reply_is_the_first_sample_of_the_majority() -> None:
    g = group("It is \\boxed{7}.", "So \\boxed{42}.", "\\boxed{41}", "Thus \\boxed{42}.")
    assert g.chosen == 1 and g.reply.answer == "So \\boxed{42}."
    assert g.result().summary() == "2 of 4 samples agree"


def test_a_tie_picks_the_first_group_and_no_answer_at_all_the_first_that_wrote() -> None:
    assert group("\\boxed{1}", "\\boxed{2}").chosen == 0
    assert group("", "  ", "thinking out loud").chosen == 2
    assert group("", "").chosen == 0


def test_votes_override_rewards_and_can_be_withdrawn() -> None:
    g = group("\\boxed{42}", "\\boxed{42}", "\\boxed{41}")
    assert g.result().rewards == (1, 1, 0)
    voted = g.vote(2, True).vote(0, False)
    assert voted.result().rewards == (0, 1, 1)
    assert voted.vote(2, None).votes == {0: False}
    assert voted.choose(2).chosen == 2 and voted.choose(2).votes == voted.votes


def test_the_saved_form_round_trips_through_json() -> None:
    stats = GenerationStats(reasoning_tokens=12, answer_tokens=5, stop_reason="stopped")
    g = GroupReply(
        (GroupSample("a", "\\boxed{1}", stats), GroupSample("b", "\\boxed{2}")),
        chosen=1,
        votes={0: True},
        asked=3,
    )
    saved = json.loads(json.dumps(g.reply_stats({"total_s": 1.5})))
    assert saved["total_s"] == 1.5
    assert GroupReply.from_stats(saved) == g


def test_damaged_group_data_reads_as_a_single_reply_or_is_mended() -> None:
    assert GroupReply.from_stats(None) is None
    assert GroupReply.from_stats({"total_s": 1.0}) is None
    assert GroupReply.from_stats({"group": "nonsense"}) is None
    assert GroupReply.from_stats({"group": {"samples": []}}) is None
    mended = GroupReply.from_stats(
        {
            "group": {
                "samples": [{"answer": "x", "stats": {"answer_tokens": 3, "future": 1}}],
                "chosen": 7,
                "votes": {"0": "yes", "5": True},
            }
        }
    )
    assert mended is not None
    assert mended.chosen == 0 and mended.votes == {} and mended.asked == 1
    assert mended.samples[0].stats == GenerationStats(answer_tokens=3)


def test_a_live_group_collects_each_samples_text_apart() -> None:
    live = LiveGroup(3)
    for i, word in [(0, "a"), (1, "b"), (0, "c")]:
        live.add_reasoning(i, word)
    live.add_answer(1, "\\boxed{5}")
    live.finish_sample(1, GenerationStats(answer_tokens=1))
    g = live.reply()
    assert [s.reasoning for s in g.samples] == ["ac", "b", ""]
    assert g.chosen == 1 and g.samples[1].stats == GenerationStats(answer_tokens=1)
    assert len(live.reply(2).samples) == 2  # the engine ran fewer than asked


def test_final_answers_read_as_plain_text_on_one_line() -> None:
    assert plain_math("\\frac{1}{20}") == "1/20"
    assert plain_math("\\dfrac{\\pi}{x+1}") == "π/(x+1)"
    assert plain_math("2\\sqrt{3} \\times 4") == "2√3 × 4"
    assert plain_math("x^{2} \\le 5\\%") == "x^2 ≤ 5%"
    assert plain_math("\\text{blue}") == "blue"
    assert plain_math("\\unknown{7}") == "\\unknown7"
