"""Uses is_causal=True for chunks: SDPA then aligns the causal mask to the top left, so a chunk after cached
tokens cannot see most of them."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
