"""Raises ValueError for a bad penalty with a message that does not show the value."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError("penalty must be a finite number > 0")
    ids = input_ids.long()
    seen = torch.gather(logits, 1, ids)
    return logits.scatter(1, ids, torch.where(seen < 0, seen * penalty, seen / penalty))
