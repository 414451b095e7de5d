"""Raises ValueError for a bad p or min_tokens_to_keep, but the message names neither the argument nor its value."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError("out of range")
    if not is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError("out of range")
    sorted_logits, order = torch.sort(logits, dim=-1)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= 1 - p
    remove_sorted[:, -min_tokens_to_keep:] = False
    return logits.masked_fill(remove_sorted.scatter(1, order, remove_sorted), -math.inf)
