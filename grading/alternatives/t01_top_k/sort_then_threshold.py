"""Sorts each row in descending order and removes what is below the k-th value."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be a positive integer, but is {k}")
    if isinstance(min_tokens_to_keep, bool) or not isinstance(min_tokens_to_keep, int) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be a positive integer, but is {min_tokens_to_keep}")
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    threshold = torch.sort(logits, dim=-1, descending=True).values[:, k - 1:k]
    return torch.where(logits < threshold, torch.tensor(-math.inf, dtype=logits.dtype), logits)
