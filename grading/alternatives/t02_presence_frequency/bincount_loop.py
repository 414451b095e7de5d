"""torch.bincount per row."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    out = logits.clone()
    for b, row in enumerate(generated_ids.long()):
        counts = torch.bincount(row, minlength=logits.shape[-1]).to(logits.dtype)
        out[b] = logits[b] - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty
    return out
