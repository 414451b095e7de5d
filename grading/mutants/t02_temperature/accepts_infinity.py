"""Only checks T > 0: T = inf (and nan slips through the comparison) are accepted."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if not is_number(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return logits / temperature
