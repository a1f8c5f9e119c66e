from app.core.conversation import Conversation


def test_prompt_history_drops_reasoning_and_empty_system() -> None:
    conv = Conversation()
    conv.add_user("q1")
    conv.add_assistant("a1", reasoning="long thoughts")
    assert conv.prompt_messages() == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
    ]
    conv.system = "Be brief."
    assert conv.prompt_messages()[0] == {"role": "system", "content": "Be brief."}


def test_titles_come_from_the_first_line_of_the_question() -> None:
    from app.core.conversation import make_title

    assert make_title("Why is the sky blue?") == "Why is the sky blue?"
    assert make_title("\n\n## Prove it\nsecond line") == "Prove it"
    long = make_title("Prove that the square root of two is irrational using only parity")
    assert long.endswith("…") and len(long) <= 61 and " " not in long[-2:]
    assert make_title("x" * 100) == "x" * 60 + "…"


def test_history_skips_replies_that_wrote_nothing_with_their_question() -> None:
    from app.core.conversation import conversation_from_turns

    conv = conversation_from_turns(
        [
            ("user", "first"),
            ("assistant", "answer one"),
            ("user", "crashed question"),
            ("assistant", ""),  # the engine died before answering
            ("user", "last question"),
        ]
    )
    assert conv.prompt_messages() == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer one"},
        {"role": "user", "content": "last question"},
    ]


def test_boxed_adds_deepseeks_instruction_to_every_question() -> None:
    from app.core.conversation import BOXED_INSTRUCTION, conversation_from_turns

    conv = conversation_from_turns(
        [("user", "2+2?"), ("assistant", "4"), ("user", "3+3?")], system="", boxed=True
    )
    questions = [m["content"] for m in conv.prompt_messages() if m["role"] == "user"]
    assert questions == [f"2+2?\n\n{BOXED_INSTRUCTION}", f"3+3?\n\n{BOXED_INSTRUCTION}"]
    assert "\\boxed{}" in BOXED_INSTRUCTION
