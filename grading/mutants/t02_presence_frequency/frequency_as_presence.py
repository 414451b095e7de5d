"""Subtracts the frequency penalty once per seen token instead of once per occurrence."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    seen = torch.zeros_like(logits).scatter(1, generated_ids.long(), 1.0)
    return logits - seen * frequency_penalty - seen * presence_penalty
