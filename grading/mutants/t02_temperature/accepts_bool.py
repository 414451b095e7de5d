"""Checks the temperature with isinstance(t, (int, float)), so True is taken as T = 1 instead of raising."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return logits / temperature
