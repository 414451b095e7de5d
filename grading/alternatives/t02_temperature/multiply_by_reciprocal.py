"""Correct alternative: logits * (1 / T) (rounds differently from logits / T, by at most an ulp)."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return logits * (1.0 / temperature)
