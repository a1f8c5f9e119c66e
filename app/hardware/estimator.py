"""Memory needed to run a model: weights per device, KV cache, compute buffers, reserve.

KV cache = sum over layers of (cached tokens in that layer) x (cached elements per token)
x 2 bytes (f16). Cached elements per token are KV heads x (K head dim + V head dim), which
covers grouped-query attention; DeepSeek's MLA caches one compressed latent instead
(kv_lora_rank + rope dims). Sliding-window layers hold only their window plus one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.hardware.shape import ModelShape

KV_BYTES = 2  # f16 cache, llama.cpp's default
N_UBATCH = 512
GPU_RESERVE = 600 * 2**20  # driver / CUDA context and fragmentation
RAM_RESERVE = 1536 * 2**20  # the OS, Ponder itself, the page cache it needs


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def layer_ctx(shape: ModelShape, il: int, n_ctx: int) -> int:
    """Tokens layer ``il`` caches for a context of ``n_ctx`` (windowed layers hold less)."""
    if shape.is_swa_layer(il):
        return min(n_ctx, _pad(shape.n_swa + N_UBATCH, 256))
    return n_ctx


def kv_layer_bytes(shape: ModelShape, il: int, n_ctx: int) -> int:
    return layer_ctx(shape, il, n_ctx) * shape.kv_per_token(il) * KV_BYTES


def kv_cache_bytes(shape: ModelShape, n_ctx: int) -> int:
    return sum(kv_layer_bytes(shape, il, n_ctx) for il in range(shape.n_layers))


def compute_bytes(
    shape: ModelShape, n_ctx: int, flash_attn: bool = True, *, resident: bool = False
) -> int:
    """llama.cpp's compute buffer: activations for one micro-batch, the logits, and the
    attention score matrix when flash attention is off.

    llama.cpp reserves the buffer for a micro-batch whose every token returns logits
    (its log: "reserving a graph for ubatch with n_tokens = 512 ... n_outputs = 512"), so
    the logits take N_UBATCH x n_vocab floats: 512 MiB of the 514.5 MiB "CPU compute buffer
    size" the 270M Gemma reports. Ponder's engine asks for the last token's logits only
    (``llama_batch_get_one``; llama.cpp's "output buffer size" is one row), so on the CPU,
    whose buffer is ordinary host memory the OS commits page by page as it is written, the
    other 511 rows never cost RAM: ``resident=True`` counts the one row. A GPU buffer is
    allocated whole, so VRAM counts the full reservation.
    """
    outputs = 1 if resident else N_UBATCH
    activations = 4 * (N_UBATCH * (shape.n_embd + shape.n_ff) + outputs * shape.n_vocab)
    scores = 0 if flash_attn else 4 * shape.n_head * N_UBATCH * n_ctx
    return activations + scores


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes per device for one placement (``gpu_layers`` offloaded, output head included
    once every layer is)."""

    weights_gpu: int
    weights_cpu: int
    kv_gpu: int
    kv_cpu: int
    compute: int
    gpu_reserve: int
    ram_reserve: int

    @property
    def vram(self) -> int:
        if not (self.weights_gpu or self.kv_gpu):
            return 0
        return self.weights_gpu + self.kv_gpu + self.compute + self.gpu_reserve

    @property
    def ram(self) -> int:
        compute_cpu = 0 if self.vram else self.compute
        return self.weights_cpu + self.kv_cpu + compute_cpu + self.ram_reserve

    @property
    def kv(self) -> int:
        return self.kv_gpu + self.kv_cpu

    @property
    def weights(self) -> int:
        return self.weights_gpu + self.weights_cpu


def breakdown(
    shape: ModelShape, n_ctx: int, gpu_layers: int = 0, flash_attn: bool = True
) -> MemoryBreakdown:
    """Memory for ``gpu_layers`` offloaded; llama.cpp offloads the *last* layers first and
    the output head when ``gpu_layers`` exceeds the layer count."""
    n = shape.n_layers
    on_gpu = min(max(gpu_layers, 0), n + 1)
    gpu_ids = range(n - min(on_gpu, n), n)
    w_gpu = sum(shape.layer_bytes[il] for il in gpu_ids)
    kv_gpu = sum(kv_layer_bytes(shape, il, n_ctx) for il in gpu_ids)
    output_on_gpu = on_gpu > n
    if output_on_gpu:
        w_gpu += shape.output_bytes
    w_cpu = shape.weights_bytes - w_gpu
    if shape.tied_output and not output_on_gpu:
        w_cpu -= shape.output_bytes  # the head *is* the embeddings: counted once
    return MemoryBreakdown(
        weights_gpu=w_gpu,
        weights_cpu=w_cpu,
        kv_gpu=kv_gpu,
        kv_cpu=kv_cache_bytes(shape, n_ctx) - kv_gpu,
        # Offloaded, the buffer lives in VRAM (allocated whole); on the CPU only what is
        # written becomes resident (see compute_bytes).
        compute=compute_bytes(shape, n_ctx, flash_attn, resident=not on_gpu),
        gpu_reserve=GPU_RESERVE if on_gpu else 0,
        ram_reserve=RAM_RESERVE,
    )
