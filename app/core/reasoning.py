"""Split a reasoning model's output stream into chain of thought and answer.

R1-family models write ``<think> ... </think>`` before the answer. Newer chat templates
open the ``<think>`` in the prompt, so the output has only ``</think>``; older ones let
the model write both; ordinary models write neither (and some builds write ``<think>`` again
after a prompt that opened it: that one is dropped). Text arrives in arbitrary chunks,
so a tag may be split anywhere; the splitter keeps only a partial tag (and a short run of
whitespace) back, so each chunk costs time proportional to its own length.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


class SplitState(enum.Enum):
    START = "start"  # not yet known whether the model will think
    REASONING = "reasoning"
    ANSWER = "answer"


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of output text and which part it belongs to."""

    reasoning: bool
    text: str


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def prompt_opens_reasoning(prompt: str) -> bool:
    """True when a rendered prompt already opened ``<think>`` for the model."""
    return prompt.rstrip().endswith(OPEN_TAG)


class ReasoningSplitter:
    """Incremental ``<think>`` parser.

    Args:
        prompt_opened: The prompt ended with ``<think>``, so output starts as reasoning.
    """

    def __init__(self, prompt_opened: bool = False) -> None:
        self.state = SplitState.REASONING if prompt_opened else SplitState.START
        self.saw_reasoning = prompt_opened  # the output has (had) a reasoning part
        # The prompt opened <think>, but the model may still write its own at the start;
        # the thinking panel must not show it as text.
        self._may_reopen = prompt_opened
        self._held = ""  # text not yet classified: partial tag and/or trailing whitespace
        self._skip_ws = True  # drop whitespace at the start of a part

    @property
    def in_reasoning(self) -> bool:
        return self.state is SplitState.REASONING

    def feed(self, chunk: str) -> list[Segment]:
        """Classify ``chunk``; returns the text that is now certain, in order."""
        out: list[Segment] = []
        text = self._held + chunk
        self._held = ""
        while text:
            if self.state is SplitState.START:
                text = self._feed_start(text)
            elif self.state is SplitState.REASONING:
                text = self._feed_reasoning(text, out)
            else:
                self._emit(out, False, text)
                text = ""
        return out

    def finish(self) -> list[Segment]:
        """The output ended: release whatever was held back."""
        out: list[Segment] = []
        held, self._held = self._held, ""
        if self.state is SplitState.START:
            self.state = SplitState.ANSWER
            self._emit(out, False, held)
        elif self.state is SplitState.REASONING:
            # Ended while still thinking: a partial closing tag is just text;
            # trailing whitespace carries no meaning.
            self._emit(out, True, held.rstrip())
        return out

    def _feed_start(self, text: str) -> str:
        stripped = text.lstrip()
        if stripped.startswith(OPEN_TAG):
            self.state = SplitState.REASONING
            self.saw_reasoning = True
            self._skip_ws = True
            return stripped[len(OPEN_TAG) :]
        if not stripped or OPEN_TAG.startswith(stripped):
            self._held = text  # whitespace or a partial "<think>" so far: wait
            return ""
        self.state = SplitState.ANSWER
        self._skip_ws = True
        return text

    def _feed_reasoning(self, text: str, out: list[Segment]) -> str:
        if self._may_reopen:
            stripped = text.lstrip()
            if stripped.startswith(OPEN_TAG):
                self._may_reopen = False
                return stripped[len(OPEN_TAG) :]
            if not stripped or OPEN_TAG.startswith(stripped):
                self._held = text  # whitespace or a partial "<think>" so far: wait
                return ""
            self._may_reopen = False
        end = text.find(CLOSE_TAG)
        if end >= 0:
            self._emit(out, True, text[:end].rstrip())
            self.state = SplitState.ANSWER
            self._skip_ws = True
            return text[end + len(CLOSE_TAG) :]
        keep = _partial_tag_suffix(text, CLOSE_TAG)
        body, tail = text[: len(text) - keep], text[len(text) - keep :]
        # Hold trailing whitespace back too, so reasoning never ends in the blank
        # line models put before </think>.
        trimmed = body.rstrip()
        self._emit(out, True, trimmed)
        self._held = body[len(trimmed) :] + tail
        return ""

    def _emit(self, out: list[Segment], reasoning: bool, text: str) -> None:
        if self._skip_ws:
            text = text.lstrip()
            if not text:
                return
            self._skip_ws = False
        if not text:
            return
        if out and out[-1].reasoning == reasoning:
            out[-1] = Segment(reasoning, out[-1].text + text)
        else:
            out.append(Segment(reasoning, text))
