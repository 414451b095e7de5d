"""Correct alternative: returns log_softmax(logits / T), normalised log-probabilities: they differ from
logits / T by a constant per row, so softmax gives the same distribution; finite stays finite, -inf stays -inf."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not is_number(temperature) or math.isnan(temperature) or math.isinf(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return torch.log_softmax(logits.float() / temperature, dim=-1).to(logits.dtype)
