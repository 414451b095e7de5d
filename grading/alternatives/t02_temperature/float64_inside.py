"""Divides in float64 and casts back."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    try:
        t = float(temperature) if not isinstance(temperature, (str, bool)) else None
    except TypeError:
        t = None
    if t is None or not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return (logits.double() / t).to(logits.dtype)
