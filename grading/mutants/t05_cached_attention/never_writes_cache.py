"""Reads the cached K/V but never writes the new tokens' K/V into the cache (no cache.update)."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k = torch.cat([cache.k[layer, :, :, :pos], k], dim=2)
    v = torch.cat([cache.v[layer, :, :, :pos], v], dim=2)
    cache.length = pos + T
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
