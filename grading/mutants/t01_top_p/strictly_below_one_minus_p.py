"""Removes the tokens whose cumulative probability is < 1 - p instead of <= 1 - p: an exact hit keeps one more."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    sorted_logits, order = torch.sort(logits, dim=-1)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative < 1 - p
    remove_sorted[:, -min_tokens_to_keep:] = False
    return logits.masked_fill(remove_sorted.scatter(1, order, remove_sorted), -math.inf)
