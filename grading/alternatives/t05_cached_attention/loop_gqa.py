"""Correct alternative: GQA by a loop over key/value heads, each serving its group of n_rep query heads,
with expanded views instead of repeated copies of K/V."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    nkv = k.shape[1]
    n_rep = q.shape[1] // nkv
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    outs = []
    for j in range(nkv):
        group = q[:, j * n_rep:(j + 1) * n_rep]                                  # (B, n_rep, T, hd)
        k_j = k[:, j:j + 1].expand(-1, n_rep, -1, -1)                         # (B, n_rep, pos+T, hd), a view
        v_j = v[:, j:j + 1].expand(-1, n_rep, -1, -1)
        outs.append(F.scaled_dot_product_attention(group, k_j, v_j, attn_mask=mask))
    return torch.cat(outs, dim=1)
