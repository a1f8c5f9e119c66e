"""What the estimator needs to know about a model, from a GGUF header or the catalog."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, CannotSizeError
from app.core.gguf import GGUFHeader, TensorInfo, read_header, split_parts

CATALOG = Path(__file__).resolve().parents[2] / "resources" / "catalog.json"

# Sliding-window layer patterns llama.cpp uses when a GGUF does not state one:
# every n-th layer attends globally, the others only over the window.
SWA_PATTERNS = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "gpt-oss": 2}
_LAYER = re.compile(r"^blk\.(\d+)\.")
# Far beyond any model (the largest have a few hundred layers); a header that says more
# is damaged, and sizing it would allocate a list that long.
MAX_LAYERS = 1000
MAX_COUNT = 2**40  # no dimension, head or vocabulary of any model comes near it
_SIZING_HINT = "Ponder cannot predict whether it fits; the file may be damaged."


@dataclass(frozen=True)
class ModelShape:
    """Sizes in bytes and the attention geometry of one model file (or catalog entry)."""

    name: str
    architecture: str
    n_layers: int
    n_embd: int
    n_ff: int
    n_vocab: int
    n_head: int
    n_head_kv: int
    head_k: int
    head_v: int
    n_ctx_train: int
    layer_bytes: tuple[int, ...]
    embed_bytes: int  # token embeddings: always kept in RAM by llama.cpp
    output_bytes: int  # output head + final norm (the embeddings again when tied)
    n_swa: int = 0  # sliding window size, 0 when none
    swa_pattern: int = 0  # every n-th layer is global; 0: all layers slide (when n_swa)
    swa_layers: tuple[bool, ...] = ()  # per-layer flags, when the GGUF gives them (gemma3n)
    mla_kv: int = 0  # DeepSeek MLA: cached elements per token per layer (K only)
    active_fraction: float = 1.0  # MoE: share of layer bytes read per token
    tied_output: bool = False  # output head shares the embeddings (no extra RAM on CPU)
    file_id: str = ""  # ``file_identity`` of the file it was read from; "" for the catalog

    @property
    def weights_bytes(self) -> int:
        return sum(self.layer_bytes) + self.embed_bytes + self.output_bytes

    def is_swa_layer(self, il: int) -> bool:
        if not self.n_swa:
            return False
        if self.swa_layers:
            return il < len(self.swa_layers) and self.swa_layers[il]
        if not self.swa_pattern:
            return True
        return il % self.swa_pattern < self.swa_pattern - 1

    def kv_per_token(self, il: int) -> int:
        """Cached elements per token in layer ``il`` (K and V together)."""
        if self.mla_kv:
            return self.mla_kv
        return self.n_head_kv * (self.head_k + self.head_v)


def shape_from_file(path: str | Path, header: GGUFHeader | None = None) -> ModelShape:
    """The shape of the model whose (first) file is ``path``; a split model's tensors are
    spread over its parts, so every part's tensor table is read (headers only)."""
    header = header if header is not None else read_header(path)
    parts = split_parts(path, header)
    others = (t for part in parts[1:] for t in read_header(part).tensors)
    return replace(shape_from_header(header, others), file_id=file_identity(path))


def file_identity(path: str | Path) -> str:
    """Which file this is, for measurements of it: its real location (a Hugging Face
    cache's link resolves to a blob named by its hash) and its size. Two downloads of the
    same model are two files; a file replaced by another of a different size is another."""
    real = Path(path).expanduser().resolve()
    try:
        size = real.stat().st_size
    except OSError:
        size = 0
    return f"{real}|{size}"


def shape_from_header(h: GGUFHeader, more_tensors: Iterable[TensorInfo] = ()) -> ModelShape:
    """The real byte counts of a GGUF's tensor table, grouped the way llama.cpp places them.
    ``more_tensors``: those of a split model's other parts (see ``shape_from_file``).

    Raises:
        CannotSizeError: a size in the header is not a count this can plan with.
    """
    n_layers = _int(h, "block_count")
    if n_layers > MAX_LAYERS:
        raise CannotSizeError(
            f"{_model_name(h)}'s header says it has {n_layers:,} layers, more than any model.",
            _SIZING_HINT,
        )
    layer_bytes = [0] * n_layers
    expert_bytes = 0
    embed = output = 0
    tied = True
    for t in chain(h.tensors, more_tensors):
        m = _LAYER.match(t.name)
        if m and int(m.group(1)) < n_layers:
            layer_bytes[int(m.group(1))] += t.n_bytes
            if "_exps." in t.name:
                expert_bytes += t.n_bytes
        elif t.name.startswith("token_embd."):
            embed += t.n_bytes
        else:
            output += t.n_bytes
            tied = tied and not t.name.startswith("output.weight")
    if tied:
        output += embed  # llama.cpp duplicates tied embeddings as the output head
    n_head = _int(h, "attention.head_count")
    n_embd = _int(h, "embedding_length")
    head_k = _int(h, "attention.key_length") or (n_embd // n_head if n_head else 0)
    head_v = _int(h, "attention.value_length") or head_k
    # llama.cpp caches DeepSeek's compressed latent (MLA) only for files converted with
    # MLA in mind (they state key_length_mla); older ones cache full K and V per head.
    kv_lora = _int(h, "attention.kv_lora_rank") if _int(h, "attention.key_length_mla") else 0
    rope = _int(h, "rope.dimension_count")
    n_expert = _int(h, "expert_count")
    n_used = _int(h, "expert_used_count")
    total_layers = sum(layer_bytes) or 1
    active = 1.0
    if n_expert and n_used:
        active = (total_layers - expert_bytes + expert_bytes * n_used / n_expert) / total_layers
    tokens = h.get("tokenizer.ggml.tokens")
    pattern = h.arch_get("attention.sliding_window_pattern")
    swa_layers = tuple(bool(x) for x in pattern) if isinstance(pattern, list) else ()
    return ModelShape(
        name=_model_name(h),
        architecture=h.architecture,
        n_layers=n_layers,
        n_embd=n_embd,
        n_ff=_int(h, "feed_forward_length"),
        n_vocab=len(tokens) if isinstance(tokens, list) else _int(h, "vocab_size"),
        n_head=n_head,
        n_head_kv=_int(h, "attention.head_count_kv") or n_head,
        head_k=head_k,
        head_v=head_v,
        n_ctx_train=_int(h, "context_length"),
        layer_bytes=tuple(layer_bytes),
        embed_bytes=embed,
        output_bytes=output,
        n_swa=_int(h, "attention.sliding_window"),
        swa_pattern=0
        if swa_layers
        else _int(h, "attention.sliding_window_pattern") or SWA_PATTERNS.get(h.architecture, 0),
        swa_layers=swa_layers,
        mla_kv=kv_lora + rope if kv_lora else 0,
        active_fraction=active,
        tied_output=tied,
    )


def _model_name(h: GGUFHeader) -> str:
    return str(h.get("general.name") or h.source)


def _int(h: GGUFHeader, suffix: str) -> int:
    """An architecture number from the header, 0 when absent. Some GGUFs store a value per
    layer (head counts in OpenELM and Nemotron): the largest, so memory is not underrated.

    Raises:
        CannotSizeError: the value is not a number, or not a finite count (NaN, negative,
            beyond any model).
    """
    value = h.arch_get(suffix)
    if isinstance(value, list):
        value = max((v for v in value if isinstance(v, int | float)), default=0)
    if value is None:
        return 0
    if not isinstance(value, int | float):
        problem = "is not a number"
    elif not math.isfinite(value) or value < 0:
        problem = f"is {value}, not a count"
    elif value > MAX_COUNT:  # products of such counts overflow a float
        problem = f"is {value:.3g}, more than any model has"
    else:
        return int(value)
    raise CannotSizeError(
        f"{_model_name(h)}'s header value {h.architecture}.{suffix} {problem}.", _SIZING_HINT
    )


@cache
def load_catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return data


def catalog_entry(model_id: str) -> dict[str, Any]:
    for entry in load_catalog()["models"]:
        if entry["id"] == model_id:
            return dict(entry)
    ids = ", ".join(e["id"] for e in load_catalog()["models"])
    raise BadInputError(f"No catalog model called {model_id}.", f"Known models: {ids}.")


def default_quant(entry: dict[str, Any]) -> str:
    quants = list(entry["quants"])
    return "Q4_K_M" if "Q4_K_M" in quants and entry.get("active_parameters") is None else quants[0]


def shape_from_catalog(entry: dict[str, Any], quant: str | None = None) -> ModelShape:
    """An estimate before download: sizes from parameters x bits per weight (or the
    exact file size when the catalog has it), split like a real file of that shape.

    Raises:
        BadInputError: the catalog has no such quantization of this model.
        CannotSizeError: the entry lacks a size, or gives one that is not a count.
    """
    try:
        return _catalog_shape(entry, quant)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        name = entry.get("name") or entry.get("id") or "A catalog model"
        raise CannotSizeError(
            f"{name}'s catalog entry cannot be sized ({type(exc).__name__}: {exc}).",
            "Ponder cannot predict whether it fits; the catalog file may be damaged.",
        ) from exc


def _catalog_shape(entry: dict[str, Any], quant: str | None) -> ModelShape:
    quant = quant or default_quant(entry)
    if quant not in entry["quants"]:
        raise BadInputError(
            f"{entry['name']} has no {quant} build in the catalog.",
            f"Choose one of: {', '.join(entry['quants'])}.",
        )
    bpw = load_catalog()["bits_per_weight"][quant]
    total = entry["quants"][quant].get("size_bytes") or int(entry["parameters"] * bpw / 8)
    n_vocab, n_embd = entry["vocab_size"], entry["embedding_length"]
    embed = int(n_vocab * n_embd * bpw / 8)
    output = int(n_vocab * n_embd * max(bpw, 6.56) / 8)  # quantizers keep the head larger
    n_layers = entry["layers"]
    per_layer = max(total - embed - output, 0) // n_layers
    active = 1.0
    if entry.get("active_parameters"):
        active = entry["active_parameters"] / entry["parameters"]
    # Whether the catalog's files were converted for MLA (see shape_from_header): R1's
    # GGUFs date from before llama.cpp's MLA support and cache full K and V.
    kv_lora = entry.get("kv_lora_rank", 0) if entry.get("mla_kv_cache") else 0
    return ModelShape(
        name=f"{entry['name']} {quant}",
        architecture=entry["architecture"],
        n_layers=n_layers,
        n_embd=n_embd,
        n_ff=entry["feed_forward_length"],
        n_vocab=n_vocab,
        n_head=entry["heads"],
        n_head_kv=entry["kv_heads"],
        head_k=entry["key_length"],
        head_v=entry["value_length"],
        n_ctx_train=entry["context_length"],
        layer_bytes=(per_layer,) * n_layers,
        embed_bytes=embed,
        output_bytes=output,
        mla_kv=kv_lora + entry.get("rope_dimension", 0) if kv_lora else 0,
        active_fraction=active,
    )
