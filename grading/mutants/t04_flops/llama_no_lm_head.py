"""The whole-model count forgets the LM head (h -> V on every position)."""


def llama_forward_flops(config, b, s):
    c = config
    return c.num_hidden_layers * llama_layer_flops(b, s, c.hidden_size, c.num_attention_heads,
                                                   c.num_key_value_heads, c.head_dim, c.intermediate_size)
