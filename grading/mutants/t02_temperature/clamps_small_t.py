"""gpt-fast's logits / max(T, 1e-5): T = 0 or a negative T is silently clamped instead of rejected."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    return logits / max(temperature, 1e-5)
