"""Returns float32 whatever the input dtype (float16 logits come back as float32)."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    x = logits.float()
    k = min(max(k, min_tokens_to_keep), x.shape[-1])
    kth = x.topk(k, dim=-1).values[:, -1:]
    return x.masked_fill(x < kth, -math.inf)
