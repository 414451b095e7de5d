"""Expands K/V heads with repeat (tiling 0,1,0,1) instead of repeat_interleave (0,0,1,1)."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat(1, n_rep, 1, 1), v.repeat(1, n_rep, 1, 1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
