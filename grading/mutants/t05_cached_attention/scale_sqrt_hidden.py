"""Scales the scores by 1/sqrt(nh * hd) (the hidden size, as the lecture's slide writes) instead of 1/sqrt(hd)."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=(q.shape[1] * q.shape[3]) ** -0.5)
