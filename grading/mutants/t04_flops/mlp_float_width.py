"""Writes the MLP width as 4.0 * h: the counts are right but come back as floats, not Python ints."""


def mlp_flops(b, s, h):
    return matmul_flops(b * s, h, 4.0 * h) + matmul_flops(b * s, 4.0 * h, h)
