"""A conversation as the user sees it, and the history as the model should see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(slots=True)
class Message:
    """One turn. ``reasoning`` holds an assistant's chain of thought, shown but never resent."""

    role: Role
    content: str
    reasoning: str = ""


@dataclass(slots=True)
class Conversation:
    """An ordered list of messages plus an optional system prompt.

    DeepSeek advises no system prompt for R1 models, so ``system`` defaults to empty and
    is left out of the prompt when empty.
    """

    messages: list[Message] = field(default_factory=list)
    system: str = ""

    def add_user(self, text: str) -> Message:
        message = Message("user", text)
        self.messages.append(message)
        return message

    def add_assistant(self, answer: str, reasoning: str = "") -> Message:
        message = Message("assistant", answer, reasoning)
        self.messages.append(message)
        return message

    def prompt_messages(self) -> list[dict[str, str]]:
        """The history for the chat template: earlier turns' reasoning is dropped.

        R1's own templates strip ``<think>`` blocks from history; we never send them in
        the first place, which also keeps the KV-cache prefix stable across turns.
        """
        out: list[dict[str, str]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.extend({"role": m.role, "content": m.content} for m in self.messages)
        return out


# DeepSeek's advice for math with R1: ask for the final answer in a box.
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def make_title(text: str, limit: int = 60) -> str:
    """A conversation title from the user's first message: its first line, shortened at a
    word boundary. Never from the reasoning (it starts with "Okay, so the user...")."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.lstrip("#>*- ").split())
    if len(line) <= limit:
        return line
    cut = line[:limit]
    if " " in cut[limit // 2 :]:  # end at a word boundary unless that loses too much
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def conversation_from_turns(
    turns: list[tuple[Role, str]], system: str = "", boxed: bool = False
) -> Conversation:
    """The history to send, from stored turns (role, answer text) in order.

    A reply that failed or was stopped before writing any answer is left out together with
    the question it answered, so roles keep alternating (several chat templates reject two
    user turns in a row); the last user turn, the one being answered, always stays. With
    ``boxed`` every question carries DeepSeek's "final answer within \\boxed{}" instruction
    (every one, so the prompt prefix, and with it the engine's KV cache, stays stable).
    """
    conv = Conversation(system=system)
    pending: str | None = None
    for role, content in turns:
        if role == "user":
            pending = f"{content}\n\n{BOXED_INSTRUCTION}" if boxed else content
        elif role == "assistant" and pending is not None:
            if content.strip():
                conv.add_user(pending)
                conv.add_assistant(content)
            pending = None
    if pending is not None:
        conv.add_user(pending)
    return conv
