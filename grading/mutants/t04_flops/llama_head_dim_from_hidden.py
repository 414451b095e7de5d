"""Takes head_dim as hidden_size / num_attention_heads (a float, and wrong when config.head_dim differs)."""


def llama_forward_flops(config, b, s):
    c = config
    head_dim = c.hidden_size / c.num_attention_heads
    layer = llama_layer_flops(b, s, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, head_dim,
                              c.intermediate_size)
    return c.num_hidden_layers * layer + matmul_flops(b * s, c.hidden_size, c.vocab_size)
