"""Keeps exactly the k indices torch.topk returns, dropping other tokens tied with the k-th value."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, -math.inf)
