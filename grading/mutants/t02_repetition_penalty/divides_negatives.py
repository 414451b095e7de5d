"""Divides every seen logit by the penalty, so negative logits move towards 0 (more likely)."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    ids = input_ids.long()
    return logits.scatter(1, ids, torch.gather(logits, 1, ids) / penalty)
