"""Correct alternative: softmax(Q K^T / sqrt(hd) + mask) V written out, with an additive -inf mask."""


def cached_attention(q, k, v, cache, layer, pos, rope):
    T, hd = q.shape[2], q.shape[3]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    scores = q @ k.transpose(-2, -1) / hd ** 0.5                                # (B, nh, T, pos+T)
    key_pos = torch.arange(pos + T, device=q.device)
    query_pos = torch.arange(pos, pos + T, device=q.device)
    mask = torch.zeros(T, pos + T, dtype=q.dtype, device=q.device)
    mask[key_pos[None, :] > query_pos[:, None]] = float("-inf")
    return torch.softmax(scores + mask, dim=-1) @ v
