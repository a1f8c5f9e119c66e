"""Render a conversation with the model's own chat template.

Templates come from downloaded files, so they are untrusted: they are rendered with
llama-cpp-python's formatter, which uses Jinja's immutable sandbox (no attribute access
to Python internals, no code execution). A model without a template gets a plain
``User:``/``Assistant:`` format that base models continue sensibly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import jinja2
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from app.core.gguf import GGUFHeader
from app.core.reasoning import prompt_opens_reasoning

log = logging.getLogger(__name__)

# The plain format's turn markers: a base model that writes one has finished its turn and
# goes on to play both sides ("\nAssistant: ..." again and again) until the token limit.
FALLBACK_STOPS = ("\nUser:", "\nAssistant:")


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    add_bos: bool  # the tokenizer must prepend BOS (the text does not already hold it)
    opens_reasoning: bool
    stops: tuple[str, ...] = ()
    used_template: bool = True


class ChatTemplate:
    """A model's chat format.

    Args:
        template: The GGUF's ``tokenizer.chat_template`` (None: use the fallback format).
        bos_token: Text of the BOS token (templates write it themselves).
        eos_token: Text of the EOS token.
        add_bos: Whether the model wants BOS at the start (``tokenizer.ggml.add_bos_token``).
    """

    def __init__(
        self, template: str | None, bos_token: str = "", eos_token: str = "", add_bos: bool = True
    ) -> None:
        self._bos = bos_token
        self._add_bos = add_bos
        self._formatter = None
        if template:
            try:
                self._formatter = Jinja2ChatFormatter(template, eos_token, bos_token)
            except jinja2.TemplateError as exc:
                log.warning("chat template does not compile (%s); using the plain format", exc)

    @classmethod
    def from_header(cls, header: GGUFHeader) -> ChatTemplate:
        return cls(
            header.chat_template,
            bos_token=header.token_text(header.get("tokenizer.ggml.bos_token_id")),
            eos_token=header.token_text(header.get("tokenizer.ggml.eos_token_id")),
            add_bos=bool(header.get("tokenizer.ggml.add_bos_token", True)),
        )

    def render(self, messages: list[dict[str, str]]) -> RenderedPrompt:
        if self._formatter is not None:
            try:
                text = self._formatter(messages=messages).prompt
            except (jinja2.TemplateError, ValueError, TypeError) as exc:
                log.warning("chat template failed (%s); using the plain format", exc)
            else:
                has_bos = bool(self._bos) and text.startswith(self._bos)
                return RenderedPrompt(
                    text, self._add_bos and not has_bos, prompt_opens_reasoning(text)
                )
        return render_fallback(messages, self._add_bos)


def render_fallback(messages: list[dict[str, str]], add_bos: bool = True) -> RenderedPrompt:
    """The plain format for models that ship no template."""
    parts = []
    for m in messages:
        if m["role"] == "system":
            parts.append(f"{m['content']}\n\n")
        else:
            speaker = "User" if m["role"] == "user" else "Assistant"
            parts.append(f"{speaker}: {m['content']}\n")
    parts.append("Assistant:")
    return RenderedPrompt("".join(parts), add_bos, False, FALLBACK_STOPS, used_template=False)
