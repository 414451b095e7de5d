"""No argument validation: k = 0 or a float k fail with some other error, or not at all."""


def top_k_filter(logits, k, min_tokens_to_keep=1):
    k = int(min(max(k, min_tokens_to_keep), logits.shape[-1]))
    if k <= 0:
        return logits.clone()
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, -math.inf)
