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
