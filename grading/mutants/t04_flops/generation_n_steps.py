"""Counts n decoding steps after the prefill instead of n - 1 (the last new token is fed back)."""


def generation_flops(b, s, h, n, n_layers, cached):
    prefill = layer_flops(b, s, h)
    decode = sum(decode_step_flops(b, s + i, h, cached) for i in range(n))
    return n_layers * (prefill + decode)
