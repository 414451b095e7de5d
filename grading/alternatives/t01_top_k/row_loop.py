"""A loop over rows with Python lists for the threshold."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0 or not is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError(f"bad arguments: k={k!r}, min_tokens_to_keep={min_tokens_to_keep!r}")
    out = logits.clone()
    for b, row in enumerate(logits.tolist()):
        kth = sorted(row, reverse=True)[min(max(k, min_tokens_to_keep), len(row)) - 1]
        for j, value in enumerate(row):
            if value < kth:
                out[b, j] = -math.inf
    return out
