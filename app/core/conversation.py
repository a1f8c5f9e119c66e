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
