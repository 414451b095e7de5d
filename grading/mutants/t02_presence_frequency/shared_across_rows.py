"""Counts the generated tokens of the whole batch for every row."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    counts = torch.bincount(generated_ids.flatten().long(), minlength=logits.shape[-1]).to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
