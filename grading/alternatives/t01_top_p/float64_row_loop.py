"""A loop over rows, the probabilities in float64."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    out = logits.clone()
    for b in range(logits.shape[0]):
        x = logits[b].double()
        values, order = torch.sort(x)                   # ascending
        cumulative = torch.softmax(values, dim=0).cumsum(dim=0)
        for i in range(len(x) - min_tokens_to_keep):   # the last min_tokens_to_keep always stay
            if cumulative[i] <= 1 - p:
                out[b, order[i]] = -math.inf
    return out
