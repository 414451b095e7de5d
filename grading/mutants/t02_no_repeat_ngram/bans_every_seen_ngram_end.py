"""Bans the last token of every earlier n-gram, whatever its first n - 1 tokens are."""


def no_repeat_ngram(logits, input_ids, n):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be an int > 0, got {n!r}")
    out = logits.clone()
    L = input_ids.shape[1]
    for b, tokens in enumerate(input_ids.tolist()):
        for start in range(L - n + 1):
            out[b, tokens[start + n - 1]] = -math.inf
    return out
