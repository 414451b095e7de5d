"""Penalises in every row the tokens seen in any row of the batch."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    seen = torch.zeros(logits.shape[-1], dtype=torch.bool)
    seen[input_ids.flatten().long()] = True
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen[None, :], penalised, logits)
