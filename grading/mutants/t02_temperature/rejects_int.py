"""Copies transformers' quirk: an int temperature such as 2 is rejected (the spec accepts it)."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not isinstance(temperature, float) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite float > 0, got {temperature!r}")
    return logits / temperature
