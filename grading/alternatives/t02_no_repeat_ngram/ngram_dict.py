"""The older transformers form: a dict from each (n-1)-gram to the tokens that followed it."""


def no_repeat_ngram(logits, input_ids, n):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be an int > 0, got {n!r}")
    out = logits.clone()
    L = input_ids.shape[1]
    if L < n:
        return out
    for b, tokens in enumerate(input_ids.tolist()):
        followers = {}
        for ngram in zip(*[tokens[i:] for i in range(n)]):
            followers.setdefault(tuple(ngram[:-1]), []).append(ngram[-1])
        for token in followers.get(tuple(tokens[L + 1 - n:]), []):
            out[b, token] = -math.inf
    return out
