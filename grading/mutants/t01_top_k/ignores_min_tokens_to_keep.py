"""Ignores min_tokens_to_keep."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, -math.inf)
