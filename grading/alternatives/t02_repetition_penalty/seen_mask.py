"""Correct alternative: a boolean (B, V) mask of the seen tokens (scatter of True), then one torch.where over the
whole vocabulary."""


def repetition_penalty(logits, input_ids, penalty):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_number(penalty) or not math.isfinite(penalty) or penalty <= 0:
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
    seen[torch.arange(logits.shape[0], device=logits.device)[:, None], input_ids.long()] = True   # (B, V)
    penalised = torch.where(logits >= 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)
