"""Export a conversation to Markdown (reasoning folded in <details>) or JSON, atomically."""

from __future__ import annotations

import html
import json
from pathlib import Path

from app.core.atomic import write_atomic
from app.core.store import ConversationRow, MessageRow


def to_markdown(conv: ConversationRow, messages: list[MessageRow]) -> str:
    out = [f"# {conv.title or 'Conversation'}", ""]
    if conv.model:
        out += [f"Model: {conv.model}", ""]
    for m in messages:
        if m.role == "user":
            out += ["## You", "", m.content, ""]
            continue
        out += ["## Assistant" + (f" ({m.model})" if m.model else ""), ""]
        if m.reasoning:
            out += [
                "<details>",
                "<summary>Thinking</summary>",
                "",
                html.escape(m.reasoning, quote=False),
                "",
                "</details>",
                "",
            ]
        out += [m.content, ""]
        if m.state != "complete":
            out += [f"*({m.state})*", ""]
    return "\n".join(out)


def to_json(conv: ConversationRow, messages: list[MessageRow]) -> str:
    data = {
        "title": conv.title,
        "model": conv.model,
        "created_at": conv.created_at,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "reasoning": m.reasoning,
                "state": m.state,
                "model": m.model,
                "stats": m.stats,
                "created_at": m.created_at,
            }
            for m in messages
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def export_conversation(conv: ConversationRow, messages: list[MessageRow], path: Path) -> None:
    """Write ``.json`` as JSON, anything else as Markdown."""
    text = (
        to_json(conv, messages) if path.suffix.lower() == ".json" else to_markdown(conv, messages)
    )
    write_atomic(path, text)
