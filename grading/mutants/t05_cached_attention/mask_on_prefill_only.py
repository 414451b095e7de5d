"""Applies the causal mask only when the cache is empty (pos == 0): a chunk of several tokens after cached ones
sees its own future tokens."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=pos == 0 and T > 1, enable_gqa=True)
