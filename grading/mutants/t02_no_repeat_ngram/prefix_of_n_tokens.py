"""Matches windows against the last n tokens (instead of n - 1) and bans the token after each match."""


def no_repeat_ngram(logits, input_ids, n):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be an int > 0, got {n!r}")
    out = logits.clone()
    L = input_ids.shape[1]
    for b, tokens in enumerate(input_ids.tolist()):
        prefix = tokens[L - n:] if L >= n else None
        for start in range(L - n):
            if tokens[start:start + n] == prefix:
                out[b, tokens[start + n]] = -math.inf
    return out
