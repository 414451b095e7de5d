"""Validates the temperature but not the logits: 1-D logits are divided instead of raising ValueError."""


def apply_temperature(logits, temperature):
    if not is_number(temperature) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return logits / temperature
