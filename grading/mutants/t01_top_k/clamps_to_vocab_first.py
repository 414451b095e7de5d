"""k' = max(min(k, V), min_tokens_to_keep): clamps to V before raising k, so min_tokens_to_keep > V asks topk for
more tokens than the row has."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    k = max(min(k, logits.shape[-1]), min_tokens_to_keep)
    kth_largest = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth_largest, -math.inf)
