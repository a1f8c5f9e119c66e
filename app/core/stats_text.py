"""The short texts under and above a reply ("Thought for 34.2 s · 2,310 tokens · 68 tok/s")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEP = " · "


def thinking_live(elapsed_s: float, tokens: int) -> str:
    return f"Thinking… {elapsed_s:.1f} s{SEP}{tokens:,} tokens"


def thinking_done(seconds: float | None, tokens: int, tok_s: float | None) -> str:
    parts = [f"Thought for {seconds:.1f} s" if seconds is not None else "Thought"]
    if tokens:
        parts.append(f"{tokens:,} tokens")
    if tok_s:
        parts.append(f"{tok_s:.0f} tok/s")
    return SEP.join(parts)


def footer(stats: Mapping[str, Any] | None, model: str) -> str:
    """Time to first token, speed, tokens and model of a finished reply."""
    parts: list[str] = []
    if stats:
        if stats.get("ttft_s") is not None:
            parts.append(f"first token {stats['ttft_s']:.2f} s")
        if stats.get("decode_tok_s"):
            parts.append(f"{stats['decode_tok_s']:.1f} tok/s")
        tokens = int(stats.get("reasoning_tokens", 0)) + int(stats.get("answer_tokens", 0))
        if tokens:
            parts.append(f"{tokens:,} tokens")
    if model:
        parts.append(model)
    return SEP.join(parts)


STATE_NOTES = {
    "stopped": "Stopped.",
    "interrupted": "Interrupted: Ponder closed while this reply was being written; "
    "this is what was saved. Regenerate to answer again.",
    "streaming": "",
    "complete": "",
}


def state_note(state: str, stats: Mapping[str, Any] | None) -> str:
    """What to say under a reply that did not complete normally."""
    if state == "error":
        message = str((stats or {}).get("error", "The reply failed."))
        hint = str((stats or {}).get("hint", ""))
        return f"{message} {hint}".strip()
    if state == "complete" and stats and stats.get("stop_reason") == "length":
        if stats.get("limit") == "context":
            return (
                "Cut off: the context is full. Start a new chat, or raise the context size "
                "(Settings → Context size)."
            )
        return "Cut off at the token limit (Settings → Max tokens)."
    return STATE_NOTES.get(state, "")
