"""MLP counted as 8bsh^2: only one of its two (h, 4h) matrices."""


def mlp_flops(b, s, h):
    return matmul_flops(b * s, h, 4 * h)
