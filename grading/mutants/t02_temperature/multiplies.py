"""Multiplies the logits by T instead of dividing."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not is_number(temperature) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return logits * temperature
