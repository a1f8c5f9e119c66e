"""The short texts under and above a reply ("Thought for 34.2 s · 2,310 tokens · 68 tok/s")."""

from __future__ import annotations

from app.core.events import GenerationStats
from app.core.reply_stats import ReplyStats
from app.core.units import format_tokens

SEP = " · "


def thinking_live(elapsed_s: float, tokens: int) -> str:
    return f"Thinking… {elapsed_s:.1f} s{SEP}{format_tokens(tokens)}"


def thinking_done(seconds: float | None, tokens: int, tok_s: float | None) -> str:
    parts = [f"Thought for {seconds:.1f} s" if seconds is not None else "Thought"]
    if tokens:
        parts.append(format_tokens(tokens))
    if tok_s:
        parts.append(f"{tok_s:.0f} tok/s")
    return SEP.join(parts)


def footer(stats: GenerationStats | None, model: str) -> str:
    """Time to first token, speed, tokens and model of a finished reply."""
    parts: list[str] = []
    if stats is not None:
        if stats.ttft_s is not None:
            parts.append(f"first token {stats.ttft_s:.2f} s")
        if stats.decode_tok_s:
            parts.append(f"{stats.decode_tok_s:.1f} tok/s")
        if stats.generated_tokens:
            parts.append(format_tokens(stats.generated_tokens))
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


def state_note(state: str, reply: ReplyStats) -> str:
    """What to say under a reply that did not complete normally."""
    if state == "error":
        return f"{reply.error or 'The reply failed.'} {reply.hint}".strip()
    figures = reply.figures
    if state == "complete" and figures is not None and figures.stop_reason == "length":
        if figures.limit == "context":
            return (
                "Cut off: the context is full. Start a new chat, or raise the context size "
                "(Settings → Context size)."
            )
        return "Cut off at the token limit (Settings → Max tokens)."
    return STATE_NOTES.get(state, "")
