"""Stores the keys before RoPE and rotates all of them every step: the output is right, but the cache holds
unrotated keys (KVCache.update expects rotated ones) and every step re-rotates the whole past."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    k, v = cache.update(layer, pos, k, v)
    cos, sin = rope(torch.arange(pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos[pos:], sin[pos:]), apply_rope(k, cos, sin)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
