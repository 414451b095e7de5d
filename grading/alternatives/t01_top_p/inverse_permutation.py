"""Correct alternative: the mask goes back to vocabulary order by gathering with the inverse permutation
(argsort of the sort order) instead of scatter."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    sorted_logits, order = logits.sort(dim=-1)                          # ascending
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= 1 - p
    remove_sorted[:, logits.shape[-1] - min_tokens_to_keep:] = False
    remove = remove_sorted.gather(1, order.argsort(dim=-1))             # sorted position of each token
    return torch.where(remove, torch.full_like(logits, -math.inf), logits)
