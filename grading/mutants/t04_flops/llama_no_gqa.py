"""Ignores GQA: W_k and W_v counted n_heads * head_dim wide, like W_q."""


def llama_layer_flops(b, s, h, n_heads, n_kv_heads, head_dim, intermediate_size):
    tokens = b * s
    projections = 4 * matmul_flops(tokens, h, n_heads * head_dim)
    attend = b * n_heads * (matmul_flops(s, head_dim, s) + matmul_flops(s, s, head_dim))
    return projections + attend + 3 * matmul_flops(tokens, h, intermediate_size)
