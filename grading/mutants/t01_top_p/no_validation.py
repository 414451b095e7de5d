"""No validation of p or min_tokens_to_keep (p = 1.01 silently keeps everything)."""


def top_p_filter(logits, p, min_tokens_to_keep=1):
    p = float(p)
    sorted_logits, order = torch.sort(logits, dim=-1)
    remove_sorted = sorted_logits.softmax(dim=-1).cumsum(dim=-1) <= 1 - p
    if min_tokens_to_keep > 0:
        remove_sorted[:, -int(min_tokens_to_keep):] = False
    return logits.masked_fill(remove_sorted.scatter(1, order, remove_sorted), -math.inf)
