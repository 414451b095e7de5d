"""Raises ValueError for a bad penalty with a message that does not say which penalty or its value."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    if not all(is_number(v) and math.isfinite(v) for v in (presence_penalty, frequency_penalty)):
        raise ValueError("penalties must be finite numbers")
    ids = generated_ids.long()
    counts = torch.zeros_like(logits).scatter_add(1, ids, torch.ones_like(ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
