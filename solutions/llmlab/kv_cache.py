"""Notebook 05: the KV cache.

In decoding, each new token's query must attend to the keys and values of every earlier token. Those K and V
never change once computed, so we keep them in a cache instead of recomputing the whole sequence each step.
Only K and V are reused: Q belongs to the new token alone.
"""
import torch
import torch.nn.functional as F
from torch import nn

from llmlab.model import RotaryEmbedding, apply_rope


class KVCache(nn.Module):
    """A preallocated cache of keys and values for every layer (as in gpt-fast).

    Buffers `k` and `v` have shape (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim); layer i's cache
    is `k[i]`, shape (B, nkv, S_max, hd). `length` is the number of positions filled so far (0 when empty).

    Args:
        n_layers, batch_size, max_seq_len, n_kv_heads, head_dim: the sizes above (positive ints).
        dtype, device: of the buffers: the model's (`model.new_cache` passes them), so that the cached K/V
            live where the model computes them.
    """

    def __init__(self, n_layers: int, batch_size: int, max_seq_len: int, n_kv_heads: int, head_dim: int,
                 dtype=torch.float32, device=None):
        super().__init__()
        ### BEGIN SOLUTION
        sizes = dict(n_layers=n_layers, batch_size=batch_size, max_seq_len=max_seq_len,
                     n_kv_heads=n_kv_heads, head_dim=head_dim)
        for name, value in sizes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        shape = (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.length = 0
        ### END SOLUTION

    def update(self, layer: int, pos: int, k: torch.Tensor, v: torch.Tensor):
        """Write the K/V of T new tokens at positions pos..pos+T-1 of `layer`; return that layer's K/V so far.

        Args:
            layer: which layer's cache, 0 <= layer < n_layers.
            pos: the absolute position of the first new token (the number of tokens before it).
            k, v: (B, nkv, T, hd), already rotated by RoPE.
        Returns:
            (k_all, v_all), each (B, nkv, pos+T, hd): every cached position of this layer up to the new ones.
        Afterwards `length` is pos + T. Raises ValueError when pos + T exceeds max_seq_len.
        """
        ### BEGIN SOLUTION
        k_cache, v_cache = self.k[layer], self.v[layer]  # (B, nkv, S_max, hd)
        end = pos + k.shape[2]
        if end > k_cache.shape[2]:
            raise ValueError(f"KV cache overflow: positions up to {end} do not fit max_seq_len={k_cache.shape[2]}")
        k_cache[:, :, pos:end] = k
        v_cache[:, :, pos:end] = v
        self.length = end
        return k_cache[:, :, :end], v_cache[:, :, :end]
        ### END SOLUTION

    def reset(self):
        """Empty the cache (length 0) so that it can serve a new sequence."""
        ### BEGIN SOLUTION
        self.length = 0
        self.k.zero_()
        self.v.zero_()
        ### END SOLUTION

    def memory_bytes(self) -> int:
        """Bytes held by the buffers: 2 (K and V) * L * B * S_max * nkv * hd * bytes per element."""
        ### BEGIN SOLUTION
        return 2 * self.k.numel() * self.k.element_size()
        ### END SOLUTION


def cached_attention(q, k, v, cache: KVCache, layer: int, pos: int, rope: RotaryEmbedding):
    """Causal attention of T new tokens over everything in the cache, writing their K/V into it.

    Args:
        q: (B, nh, T, hd) queries of the new tokens, before RoPE. q, k, v and the cache are all on the
            model's device; make every new tensor (positions, mask) on `q.device`.
        k, v: (B, nkv, T, hd) keys and values of the new tokens, before RoPE. nh is a multiple of nkv (GQA):
            query head i uses key/value head i // (nh // nkv).
        cache: the KVCache; `layer` is this layer's index in it.
        pos: the absolute position of the first new token; the cache already holds positions 0..pos-1.
        rope: `cos, sin = rope(positions)` gives the RoPE tables, (T, hd) each; apply them with
            `llmlab.model.apply_rope(x, cos, sin)`.
    Returns:
        (B, nh, T, hd): softmax(q k^T / sqrt(hd) + mask) v, where new token i (position pos+i) sees the
        positions j <= pos + i (a causal mask aligned to the bottom right).
    """
    ### BEGIN SOLUTION
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)  # the new tokens' own positions
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)                                  # (B, nkv, pos+T, hd)
    # GQA: enable_gqa lets query head i use key/value head i // (nh // nkv), as if k and v were expanded with
    # k.repeat_interleave(nh // nkv, dim=1), without copying them
    if T == 1:  # one decoding step sees every cached position: no mask needed
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)  # (T, pos+T)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    ### END SOLUTION
