"""Penalises only the last token of each row."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    if input_ids.shape[1] == 0:
        return logits.clone()
    ids = input_ids[:, -1:].long()
    seen = torch.gather(logits, 1, ids)
    return logits.scatter(1, ids, torch.where(seen < 0, seen * penalty, seen / penalty))
