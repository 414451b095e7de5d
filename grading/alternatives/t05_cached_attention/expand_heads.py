"""Correct alternative: K/V heads shared by expanding a new group dimension and reshaping (B, nkv, rep, S, hd)
-> (B, nh, S, hd), and a float additive mask of -inf above the shifted diagonal."""
import math


def cached_attention(q, k, v, cache, layer, pos, rope):
    B, nh, T, hd = q.shape
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)                                   # (B, nkv, S, hd), S = pos + T
    nkv, S = k.shape[1], k.shape[2]
    k = k[:, :, None].expand(B, nkv, nh // nkv, S, hd).reshape(B, nh, S, hd)
    v = v[:, :, None].expand(B, nkv, nh // nkv, S, hd).reshape(B, nh, S, hd)
    mask = torch.full((T, S), -math.inf, dtype=q.dtype, device=q.device).triu(diagonal=pos + 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
