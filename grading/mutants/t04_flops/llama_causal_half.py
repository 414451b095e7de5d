"""Counts only the unmasked half of the score matrix in the LLaMA layer (s^2 / 2 scores per head)."""


def llama_layer_flops(b, s, h, n_heads, n_kv_heads, head_dim, intermediate_size):
    tokens = b * s
    q_and_o = matmul_flops(tokens, h, n_heads * head_dim) + matmul_flops(tokens, n_heads * head_dim, h)
    k_and_v = 2 * matmul_flops(tokens, h, n_kv_heads * head_dim)
    attend = b * n_heads * (matmul_flops(s, head_dim, s) + matmul_flops(s, s, head_dim)) // 2
    return q_and_o + k_and_v + attend + 3 * matmul_flops(tokens, h, intermediate_size)
