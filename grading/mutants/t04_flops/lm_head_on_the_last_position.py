"""Counts the LM head on the last position only (as generation needs), not on all s positions."""


def llama_forward_flops(config, b, s):
    c = config
    layer = llama_layer_flops(b, s, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                              c.intermediate_size)
    return c.num_hidden_layers * layer + matmul_flops(b, c.hidden_size, c.vocab_size)
