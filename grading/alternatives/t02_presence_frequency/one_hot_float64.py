"""Counts with one_hot(...).sum, computes in float64 and casts back."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    counts = torch.nn.functional.one_hot(generated_ids.long(), logits.shape[-1]).sum(dim=1).double()  # (B, V)
    penalty = counts * frequency_penalty + (counts > 0).double() * presence_penalty
    return (logits.double() - penalty).to(logits.dtype)
