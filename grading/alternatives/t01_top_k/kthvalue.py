"""Correct alternative: the k'-th largest as torch.kthvalue's (V - k' + 1)-th smallest, and torch.where."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    if not is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be an int >= 1, got {min_tokens_to_keep!r}")
    V = logits.shape[-1]
    k = min(max(k, min_tokens_to_keep), V)
    kth = logits.float().kthvalue(V - k + 1, dim=-1, keepdim=True).values.to(logits.dtype)  # (B, 1)
    return torch.where(logits < kth, torch.full_like(logits, -math.inf), logits)
