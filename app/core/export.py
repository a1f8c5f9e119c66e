"""Export a conversation to Markdown (reasoning folded in <details>) or JSON, atomically.

A "Think N ways" reply exports as its chosen answer, then every sample (the vote, each
sample's final answer, reward and advantage, thinking and answer) folded in <details>; the
JSON form keeps them in the reply's ``stats["group"]``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from app.core.atomic import write_atomic
from app.core.group_reply import GroupReply
from app.core.grouping import final_answer
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
            out += _details("Thinking", html.escape(m.reasoning, quote=False))
        out += [m.content, ""]
        if m.state != "complete":
            out += [f"*({m.state})*", ""]
        group = GroupReply.from_stats(m.stats)
        if group is not None:
            out += _group_markdown(group)
    return "\n".join(out)


def _details(summary: str, body: str) -> list[str]:
    return [
        "<details>",
        f"<summary>{html.escape(summary)}</summary>",
        "",
        body,
        "",
        "</details>",
        "",
    ]


def _group_markdown(group: GroupReply) -> list[str]:
    result = group.result()
    vote = result.summary() + (f": {result.majority}" if result.majority is not None else "")
    out = [
        "<details>",
        f"<summary>{html.escape(f'Thought {len(group.samples)} ways. {vote}')}</summary>",
        "",
    ]
    for i, sample in enumerate(group.samples):
        shown = final_answer(sample.answer)
        facts = [
            f"answer: {shown}" if shown is not None else "no answer",
            f"reward {result.rewards[i]}",
            f"advantage {result.advantages[i]:+.2f}",
        ]
        if i in group.votes:
            facts.append("thumbs up" if group.votes[i] else "thumbs down")
        if i == group.chosen:
            facts.append("the reply")
        out += [f"### Sample {i + 1} ({', '.join(facts)})", ""]
        if sample.reasoning:
            out += _details("Thinking", html.escape(sample.reasoning, quote=False))
        out += [sample.answer or "*(no answer)*", ""]
    out += ["</details>", ""]
    return out


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
