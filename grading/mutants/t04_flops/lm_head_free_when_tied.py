"""Leaves the LM head out when tie_word_embeddings is true, as if shared weights cost no computation."""


def llama_forward_flops(config, b, s):
    c = config
    layer = llama_layer_flops(b, s, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                              c.intermediate_size)
    lm_head = 0 if c.tie_word_embeddings else matmul_flops(b * s, c.hidden_size, c.vocab_size)
    return c.num_hidden_layers * layer + lm_head
