"""With a cache, the new token's query attends to s keys, forgetting its own: 24bh^2 + 4bsh."""


def decode_step_flops(b, s, h, cached):
    if not cached:
        return layer_flops(b, s + 1, h)
    return 24 * b * h * h + 4 * b * s * h
