"""Attention counts the scores Q K^T but forgets the weighted values softmax(.) V: 8bsh^2 + 2bs^2h."""


def attention_flops(b, s, h):
    return 4 * matmul_flops(b * s, h, h) + b * matmul_flops(s, h, s)
