"""Correct alternative: the same counts written as closed-form polynomials, and the decode sums summed by
Gauss's formula instead of a loop."""


def matmul_flops(m, n, p):
    return m * p * (n + n)


def attention_flops(b, s, h):
    return 4 * b * s * h * (2 * h + s)


def mlp_flops(b, s, h):
    return 16 * b * s * h ** 2


def layer_flops(b, s, h):
    return 4 * b * s * h * (6 * h + s)


def decode_step_flops(b, s, h, cached):
    t = s + 1
    return 4 * b * h * (6 * h + t) if cached else 4 * b * t * h * (6 * h + t)


def generation_flops(b, s, h, n, n_layers, cached):
    steps = n - 1
    if cached:  # sum over t = s+1 .. s+n-1 of 24bh^2 + 4bth
        decode = 24 * b * h * h * steps + 4 * b * h * (steps * (2 * s + steps + 1) // 2)
    else:       # sum of 24bth^2 + 4bt^2h over the same t
        sum_t = steps * (2 * s + steps + 1) // 2
        sum_t2 = (s + n - 1) * (s + n) * (2 * s + 2 * n - 1) // 6 - s * (s + 1) * (2 * s + 1) // 6
        decode = 24 * b * h * h * sum_t + 4 * b * h * sum_t2
    return n_layers * (layer_flops(b, s, h) + decode)


def llama_layer_flops(b, s, h, n_heads, n_kv_heads, head_dim, intermediate_size):
    width = (2 * n_heads + 2 * n_kv_heads) * head_dim + 3 * intermediate_size  # all weight columns
    return 2 * b * s * h * width + 4 * b * n_heads * s * s * head_dim


def llama_forward_flops(config, b, s):
    per_layer = llama_layer_flops(b, s, config.hidden_size, config.num_attention_heads,
                                  config.num_key_value_heads, config.head_dim, config.intermediate_size)
    return config.num_hidden_layers * per_layer + 2 * b * s * config.hidden_size * config.vocab_size
