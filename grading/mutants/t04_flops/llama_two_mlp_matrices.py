"""SwiGLU counted with two matrices (up and down), forgetting the gate projection."""


def llama_layer_flops(b, s, h, n_heads, n_kv_heads, head_dim, intermediate_size):
    tokens = b * s
    q_and_o = 2 * matmul_flops(tokens, h, n_heads * head_dim)
    k_and_v = 2 * matmul_flops(tokens, h, n_kv_heads * head_dim)
    attend = b * n_heads * (matmul_flops(s, head_dim, s) + matmul_flops(s, s, head_dim))
    return q_and_o + k_and_v + attend + 2 * matmul_flops(tokens, h, intermediate_size)
