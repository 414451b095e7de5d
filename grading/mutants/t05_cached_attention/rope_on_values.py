"""Applies RoPE to the values as well as to the queries and keys."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k, v = apply_rope(q, cos, sin), apply_rope(k, cos, sin), apply_rope(v, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
