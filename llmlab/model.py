"""A LLaMA-architecture decoder in plain PyTorch, written to be read.

Parameter names follow Hugging Face's LlamaForCausalLM (minus the "model." prefix), so a local HF checkpoint
loads directly (see llmlab.checkpoint). Shapes: B batch, T new tokens, S tokens attended to, h hidden size,
nh query heads, nkv key/value heads (GQA when nkv < nh), hd head dimension, V vocabulary.

Two paths through attention:
- `model(input_ids)`: no cache; every call re-reads the whole sequence (what decoding costs without a cache).
- `model(input_ids, cache)`: the new tokens' K/V go into a KV cache and attention reads everything cached
  (`llmlab.kv_cache`, notebook 05). Prefill is one call with the prompt, decode one call per new token.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.torch_version import TorchVersion


@dataclass
class LlamaConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096                 # h
    intermediate_size: int = 11008          # width of the SwiGLU MLP
    num_hidden_layers: int = 32             # L
    num_attention_heads: int = 32           # nh
    num_key_value_heads: int | None = None  # nkv; None means nh (no GQA)
    head_dim: int | None = None             # hd; None means h // nh
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None        # None, or HF's {"rope_type": "linear" | "llama3", ...}
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False       # lm_head shares the embedding matrix
    attention_bias: bool = False
    mlp_bias: bool = False
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads={self.num_key_value_heads}")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        """weight * x / sqrt(mean(x^2) + eps) over the last dimension."""
        if x.dtype == torch.float32:  # F.rms_norm computes exactly transformers' formula, in fewer steps
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        # other dtypes: normalise in fp32, cast back, then scale, as transformers does
        return self.weight * F.rms_norm(x.float(), self.weight.shape, eps=self.eps).to(x.dtype)


def rope_inv_freq(config: LlamaConfig) -> torch.Tensor:
    """1 / theta^(2i/hd) for i < hd/2, with HF's "linear" or "llama3" frequency scaling if configured."""
    hd = config.head_dim
    inv_freq = 1.0 / config.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd)
    scaling = config.rope_scaling or {"rope_type": "default"}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind == "llama3":  # long wavelengths slowed by `factor`, short ones kept, a smooth ramp between
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_len = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        smooth = (old_len / wavelen - low) / (high - low)
        ramp = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        scaled = torch.where(wavelen > old_len / low, inv_freq / factor, inv_freq)
        middle = (wavelen <= old_len / low) & (wavelen >= old_len / high)
        return torch.where(middle, ramp, scaled)
    raise ValueError(f"rope_scaling type {kind!r} is not supported (supported: default, linear, llama3)")


class RotaryEmbedding(nn.Module):
    """Maps absolute positions to the cos/sin tables that rotate q and k (RoPE).

    The angles of positions 0..max_position_embeddings-1 are computed once, in fp32 as transformers does, and
    looked up: every layer of every decoding step needs them, and a lookup is one operation instead of seven."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.max_positions = config.max_position_embeddings
        freqs = torch.arange(self.max_positions).float()[:, None] * rope_inv_freq(config)[None, :]  # (P, hd/2)
        angles = torch.cat([freqs, freqs], dim=-1)                   # (P, hd): HF's rotate-half layout
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def _apply(self, fn, recurse=True):
        """Move the tables with the model (model.to(...), .cuda(), ...), but keep them in fp32: rounded by
        model.to(torch.bfloat16), they would stay rounded after .float(). forward() casts what it looks up."""
        device = fn(self.cos).device
        self.cos, self.sin = self.cos.to(device), self.sin.to(device)
        return self

    def forward(self, positions: torch.Tensor, dtype=torch.float32):
        """positions (T,) int64 -> cos, sin: (T, hd) each."""
        return self.cos.index_select(0, positions).to(dtype), self.sin.index_select(0, positions).to(dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)        # (..., hd/2) each
    return torch.cat([-x2, x1], dim=-1)  # (..., hd)


def apply_rope(x, cos, sin):
    """Rotate x (B, heads, T, hd) by the angles of its T positions; cos, sin: (T, hd)."""
    return x * cos + rotate_half(x) * sin


def gqa_attention(q, k, v, **kwargs):
    """F.scaled_dot_product_attention(q, k, v, **kwargs) where query head i uses key/value head i // (nh // nkv).

    SDPA shares each key/value head itself (enable_gqa), except where that aborts (MPS before torch 2.7,
    pytorch#149132): there k and v are repeated to nh heads first (same values, more memory)."""
    if sdpa_enable_gqa_works(q.device):
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **kwargs)
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)  # (B, nh, S, hd)
    return F.scaled_dot_product_attention(q, k, v, **kwargs)


def sdpa_enable_gqa_works(device: torch.device, version=torch.__version__) -> bool:
    return device.type != "mps" or TorchVersion(version) >= (2, 7)


def uncached_attention(q, k, v, rope: RotaryEmbedding):
    """Causal self-attention over the T tokens given, at positions 0..T-1. q: (B, nh, T, hd), k/v: (B, nkv, T, hd)."""
    T = q.shape[2]
    cos, sin = rope(torch.arange(T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    return gqa_attention(q, k, v, is_causal=True)  # (B, nh, T, hd)


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.nh, self.nkv, self.hd = config.num_attention_heads, config.num_key_value_heads, config.head_dim
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.nh * self.hd, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.nkv * self.hd, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.nkv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.hd, config.hidden_size, bias=bias)

    def forward(self, x, rope: RotaryEmbedding, cache=None, pos: int = 0):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)   # (B, nh, T, hd)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)  # (B, nkv, T, hd)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)  # (B, nkv, T, hd)
        if cache is None:
            y = uncached_attention(q, k, v, rope)
        else:
            from llmlab.kv_cache import cached_attention  # notebook 05's exercise
            y = cached_attention(q, k, v, cache, self.layer, pos, rope)
        y = y.transpose(1, 2).reshape(B, T, self.nh * self.hd)  # (B, T, nh*hd)
        return self.o_proj(y)                                  # (B, T, h)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        h, i, bias = config.hidden_size, config.intermediate_size, config.mlp_bias
        self.gate_proj = nn.Linear(h, i, bias=bias)
        self.up_proj = nn.Linear(h, i, bias=bias)
        self.down_proj = nn.Linear(i, h, bias=bias)

    def forward(self, x):
        """x (B, T, h) -> (B, T, h), through a hidden width of intermediate_size."""
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config, layer)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, rope, cache=None, pos=0):
        x = x + self.self_attn(self.input_layernorm(x), rope, cache, pos)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.rope = RotaryEmbedding(config)

    def forward(self, input_ids, cache=None, last_only=False):
        """input_ids (B, T) -> logits (B, T, V), or (B, 1, V) with last_only.

        With a cache, the T tokens continue the cache.length tokens already in it (a chunk after cached
        ones); without one, they are the whole sequence."""
        pos = 0 if cache is None else cache.length  # absolute position of the first new token
        if pos + input_ids.shape[1] > self.rope.max_positions:
            raise ValueError(f"positions up to {pos + input_ids.shape[1]} exceed the model's "
                             f"max_position_embeddings={self.rope.max_positions}")
        x = self.embed_tokens(input_ids)            # (B, T, h)
        for layer in self.layers:
            x = layer(x, self.rope, cache, pos)
        if last_only:
            x = x[:, -1:]                           # (B, 1, h)
        return self.lm_head(self.norm(x)).float()  # logits in fp32, as transformers' generate uses them

    def new_cache(self, batch_size: int, max_seq_len: int):
        """An empty KV cache for this model (notebook 05's KVCache)."""
        from llmlab.kv_cache import KVCache
        c = self.config
        return KVCache(c.num_hidden_layers, batch_size, max_seq_len, c.num_key_value_heads, c.head_dim,
                       dtype=self.lm_head.weight.dtype, device=self.lm_head.weight.device)

    @property
    def device(self):
        return self.lm_head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights count once
