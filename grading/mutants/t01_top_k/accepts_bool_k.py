"""Checks k with isinstance(k, int), so k=True (an int subclass) is taken as k=1 instead of raising."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth_largest, -math.inf)
