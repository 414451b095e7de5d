"""Raises ValueError for a bad temperature with a message that does not show the value."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not is_number(temperature) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError("temperature must be a finite number > 0")
    return logits / temperature
