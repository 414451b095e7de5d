"""Does not clamp k to the vocabulary size: k > V fails."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    kth = logits.topk(max(k, min_tokens_to_keep), dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, -math.inf)
