"""Applies the presence penalty only to tokens that occur more than once (c[j] > 1 instead of c[j] > 0)."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    ids = generated_ids.long()
    counts = torch.zeros_like(logits).scatter_add(1, ids, torch.ones_like(ids, dtype=logits.dtype))
    return logits - counts * frequency_penalty - (counts > 1).to(logits.dtype) * presence_penalty
