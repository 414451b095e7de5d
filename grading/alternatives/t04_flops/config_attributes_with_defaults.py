"""Correct alternative: llama_forward_flops reads the config with getattr and falls back on the defaults of a
config that leaves head_dim or num_key_value_heads unset (hidden_size / heads, the number of heads)."""


def llama_forward_flops(config, b, s):
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    h, inter, vocab = config.hidden_size, config.intermediate_size, config.vocab_size
    per_layer = (2 * b * s * h * heads * head_dim * 2          # W_q and W_o
                 + 2 * b * s * h * kv_heads * head_dim * 2     # W_k and W_v
                 + 4 * b * heads * s * s * head_dim            # scores and weighted values, every head
                 + 3 * 2 * b * s * h * inter)                  # SwiGLU: gate, up, down
    return config.num_hidden_layers * per_layer + 2 * b * s * h * vocab
