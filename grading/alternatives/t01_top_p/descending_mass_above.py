"""Descending order: keep a token when the probability of the tokens ranked above it is < p."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    above = probs.cumsum(dim=-1) - probs
    keep_sorted = above < p
    keep_sorted[:, :min_tokens_to_keep] = True
    keep = torch.zeros_like(keep_sorted).scatter(1, order, keep_sorted)
    return logits.masked_fill(~keep, -math.inf)
