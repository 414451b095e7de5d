"""Raises ValueError for a bad k or min_tokens_to_keep with a message that names neither the argument nor its value."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if not is_int(k) or k <= 0 or not is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError("invalid arguments")
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth_largest, -math.inf)
