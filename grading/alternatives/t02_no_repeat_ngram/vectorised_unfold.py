"""transformers' vectorised form: unfold all windows, compare their first n - 1 tokens with the prefix."""


def no_repeat_ngram(logits, input_ids, n):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be an int > 0, got {n!r}")
    L = input_ids.shape[1]
    if L < n:
        return logits.clone()
    ids = input_ids.long()
    prefix = ids[:, L + 1 - n:]                                  # (B, n-1)
    windows = ids.unfold(1, n, 1)                                # (B, L-n+1, n)
    matches = (windows[..., :-1] == prefix[:, None]).all(dim=-1)  # (B, L-n+1)
    V = logits.shape[-1]
    banned = torch.zeros(logits.shape[0], V + 1, dtype=torch.bool)
    banned.scatter_(1, torch.where(matches, windows[..., -1], V), True)
    return logits.masked_fill(banned[:, :V], -math.inf)
