"""`ponder inspect FILE`: the validated header summary, or why the file is rejected."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import print_json, print_rows
from app.core.gguf import GGUFHeader, read_header
from app.core.reasoning import OPEN_TAG
from app.core.units import format_bytes


def add_parser(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show a GGUF file's validated header")
    p.add_argument("file", help="path to a .gguf file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def summarize(h: GGUFHeader) -> dict[str, Any]:
    template = h.chat_template
    return {
        "file": h.source,
        "file_size": h.file_size,
        "gguf_version": h.version,
        "architecture": h.architecture,
        "name": h.get("general.name"),
        "size_label": h.get("general.size_label"),
        "parameters": h.parameter_count,
        "layers": h.arch_get("block_count"),
        "heads": h.arch_get("attention.head_count"),
        "kv_heads": h.arch_get("attention.head_count_kv"),
        "embedding_length": h.arch_get("embedding_length"),
        "context_length": h.arch_get("context_length"),
        "quantization": h.quantization,
        "chat_template": template is not None,
        "template_mentions_think": bool(template and OPEN_TAG in template),
        "tensors": len(h.tensors),
        "tensor_bytes": h.tensor_bytes,
        "expected_file_size": h.expected_size,
        "truncated": h.truncated,
        "warnings": list(h.warnings),
    }


def run(args: argparse.Namespace) -> int:
    info = summarize(read_header(args.file))
    if args.json:
        print_json(info)
        return 0
    params = info["parameters"]
    rows = [
        ("Model", info["name"] or info["file"]),
        ("Architecture", info["architecture"]),
        ("Parameters", f"{params / 1e9:.2f} B" if params >= 1e9 else f"{params / 1e6:.0f} M"),
        ("Quantization", info["quantization"]),
        ("Layers", info["layers"]),
        ("Attention heads", f"{info['heads']} (KV {info['kv_heads']})"),
        ("Context length", f"{info['context_length']:,}" if info["context_length"] else "?"),
        ("Chat template", "yes" if info["chat_template"] else "no (plain format)"),
        ("Tensor data", format_bytes(info["tensor_bytes"])),
        (
            "File",
            f"{format_bytes(info['file_size'])}"
            + ("  INCOMPLETE: cannot be loaded" if info["truncated"] else ""),
        ),
    ]
    print_rows(rows)
    for warning in info["warnings"]:
        print(f"Warning: {warning}")
    return 0
