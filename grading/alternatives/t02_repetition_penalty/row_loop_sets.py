"""A loop over rows and over each row's set of tokens."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not (0 < penalty < math.inf):
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    out = logits.clone()
    for b, row in enumerate(input_ids.tolist()):
        for token in set(row):
            s = logits[b, token]
            out[b, token] = s * penalty if s < 0 else s / penalty
    return out
