"""Without a cache, re-runs s tokens instead of s + 1 (forgets the new token itself)."""


def decode_step_flops(b, s, h, cached):
    if not cached:
        return layer_flops(b, s, h)
    return 24 * b * h * h + 4 * b * (s + 1) * h
