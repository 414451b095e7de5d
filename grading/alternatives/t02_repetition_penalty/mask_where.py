"""A (B, V) mask of seen tokens and torch.where, multiplying by 1 / penalty for the positive logits."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, input_ids.long(), True)
    penalised = torch.where(logits < 0, logits * penalty, logits * (1.0 / penalty))
    return torch.where(seen, penalised, logits)
