"""A chat-completions request, read and checked: one sentence for each thing wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.units import R1_TEMPERATURE, R1_TOP_P
from app.inference.protocol import DEFAULT_MAX_TOKENS, SamplingParams

# reasoning_effort (OpenAI's knob for reasoning models) as a think budget in tokens.
EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": None}


class RequestError(Exception):
    """A request the server refuses, in OpenAI's error terms."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    sampling: SamplingParams
    stream: bool
    include_usage: bool


def _text(content: Any, where: str) -> str:
    """Message content: a string, or OpenAI's list of parts (text parts only)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise RequestError(400, f"{where} has a part that is not text; only text is read.")
        return "".join(parts)
    if content is None:
        return ""
    raise RequestError(400, f"{where} must be a string or a list of text parts.")


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RequestError(400, f"{name} must be a number from {low:g} to {high:g}.")
    return float(value)


def parse_chat_request(body: Any, default_model: str | None) -> ChatRequest:
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    model = body.get("model") or default_model
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model is missing: name one of GET /v1/models.")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RequestError(400, "messages must be a non-empty list.")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in (
            "system",
            "user",
            "assistant",
            "developer",
        ):
            raise RequestError(400, f"messages[{i}] needs a role of system, user or assistant.")
        role = "system" if m["role"] == "developer" else m["role"]
        # DeepSeek's rule: reasoning_content sent back is ignored, never fed to the model.
        messages.append({"role": role, "content": _text(m.get("content"), f"messages[{i}]")})
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(400, "max_tokens must be a whole number of at least 1.")
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) for s in stop):
        raise RequestError(400, "stop must be a string or a list of strings.")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError(400, "seed must be a whole number.")
    budget = body.get("think_budget")
    effort = body.get("reasoning_effort")
    if budget is None and effort is not None:
        if effort not in EFFORT_BUDGET:
            raise RequestError(400, "reasoning_effort must be low, medium or high.")
        budget = EFFORT_BUDGET[effort]
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
    ):
        raise RequestError(400, "think_budget must be a whole number of tokens, at least 1.")
    temperature = _number(body, "temperature", 0, 2)
    top_p = _number(body, "top_p", 0, 1)
    sampling = SamplingParams(
        temperature=R1_TEMPERATURE if temperature is None else temperature,
        top_p=R1_TOP_P if top_p is None or top_p == 0 else top_p,
        seed=seed,
        max_tokens=max_tokens,
        think_budget=budget,
        stop=tuple(stop),
    )
    options = body.get("stream_options") or {}
    return ChatRequest(
        model=model,
        messages=messages,
        sampling=sampling,
        stream=bool(body.get("stream")),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
    )
