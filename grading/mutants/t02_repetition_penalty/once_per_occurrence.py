"""Penalises a token once per occurrence, so a token seen 3 times is divided by penalty ** 3."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    out = logits.clone()
    for b, row in enumerate(input_ids.tolist()):
        for token in row:
            s = out[b, token]
            out[b, token] = s * penalty if s < 0 else s / penalty
    return out
