"""Chat templates: the real R1 template, history without reasoning, sandboxing, fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.conversation import Conversation
from app.core.gguf import read_header
from app.inference.templates import ChatTemplate, render_fallback

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"


@pytest.fixture(scope="module")
def r1_template(r1_header_path: Path) -> ChatTemplate:
    return ChatTemplate.from_header(read_header(r1_header_path))


def test_r1_template_renders_the_turn_format(r1_template: ChatTemplate) -> None:
    conv = Conversation()
    conv.add_user("What is 2+2?")
    out = r1_template.render(conv.prompt_messages())
    assert out.text == f"{BOS}<｜User｜>What is 2+2?<｜Assistant｜>"
    assert out.add_bos is False  # the template wrote BOS itself: never two BOS tokens
    assert out.opens_reasoning is False  # this (older) R1 template lets the model open it


def test_history_sent_to_the_model_has_no_reasoning(r1_template: ChatTemplate) -> None:
    conv = Conversation()
    conv.add_user("What is 2+2?")
    conv.add_assistant("4", reasoning="Two plus two... carry nothing... four.")
    conv.add_user("And 3+3?")
    out = r1_template.render(conv.prompt_messages())
    assert "carry nothing" not in out.text
    assert out.text == (
        f"{BOS}<｜User｜>What is 2+2?<｜Assistant｜>4{EOS}<｜User｜>And 3+3?<｜Assistant｜>"
    )


def test_newer_template_that_opens_think_is_detected() -> None:
    template = (
        "{{ bos_token }}{% for m in messages %}<｜{{ m['role'] }}｜>{{ m['content'] }}"
        "{% endfor %}{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}"
    )
    out = ChatTemplate(template, bos_token=BOS, eos_token=EOS).render(
        [{"role": "user", "content": "hi"}]
    )
    assert out.opens_reasoning is True


def test_template_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = (
        "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    out = ChatTemplate(evil).render([{"role": "user", "content": "hi"}])
    assert not marker.exists()
    assert out.used_template is False  # the sandbox refused; the plain format was used


def test_model_without_template_gets_the_plain_format() -> None:
    out = ChatTemplate(None).render(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "bye"},
        ]
    )
    assert out.text == "User: hi\nAssistant: hello\nUser: bye\nAssistant:"
    assert out.add_bos is True
    # A base model that writes either turn marker has ended its turn.
    assert out.stops == ("\nUser:", "\nAssistant:")
    assert out == render_fallback(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "bye"},
        ]
    )
