"""Small random Llama models for tests, built so that real bugs show.

With the default init (std 0.02) a wrong RoPE, scale or GQA layout barely moves the logits. These models use
weights with std 0.3, GQA with several KV heads and several query heads per KV head, a non-default
rope_theta, tied embeddings and a head_dim different from hidden_size / num_attention_heads.
"""
import torch

from llmlab.model import Llama, LlamaConfig

CONFIGS = {
    # GQA: 2 KV heads, 2 query heads each; head_dim 16 != 48 / 4; tied embeddings; rope_theta 5e5
    "gqa_tied": dict(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=5e5,
                     tie_word_embeddings=True),
    # 3 query heads per KV head, odd sizes, untied
    "gqa3_untied": dict(vocab_size=61, hidden_size=36, intermediate_size=71, num_hidden_layers=3,
                        num_attention_heads=6, num_key_value_heads=2, head_dim=10, rope_theta=5e5,
                        rms_norm_eps=1e-5),
    # plain multi-head attention (no GQA), default rope_theta
    "mha": dict(vocab_size=53, hidden_size=40, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=5, num_key_value_heads=5),
    # llama3 rope scaling; MQA (one KV head for all four query heads)
    "llama3_mqa": dict(vocab_size=89, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=1, head_dim=12, rope_theta=5e5,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8}),
}


def random_llama(name: str = "gqa_tied", seed: int = 0, std: float = 0.3, **overrides) -> Llama:
    """A llmlab Llama with config CONFIGS[name] (plus overrides) and N(0, std) weights; norm weights 1 + N(0, std)."""
    torch.manual_seed(seed)
    model = Llama(LlamaConfig(**{**CONFIGS[name], **overrides}))
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1 + std * torch.randn_like(p))
            else:
                p.normal_(0, std)
    return model.requires_grad_(False).eval()


def to_hf(model: Llama, attn_implementation: str = "eager"):
    """transformers' LlamaForCausalLM with the same config and weights (fp32, eval)."""
    import transformers

    from llmlab.checkpoint import hf_config_dict
    config = transformers.LlamaConfig(**hf_config_dict(model.config))
    hf = transformers.LlamaForCausalLM(config).eval()
    state = {(k if k == "lm_head.weight" else f"model.{k}"): v for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")
    hf.load_state_dict(state, strict=not model.config.tie_word_embeddings)
    hf.config._attn_implementation = attn_implementation
    return hf


def random_ids(vocab_size: int, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def bigram_llama(logits_table: torch.Tensor) -> Llama:
    """A one-layer Llama whose next-token logits depend only on the last token: logits_table[last] (V x V).

    Attention and MLP write zeros (o_proj = down_proj = 0), the embedding of token i is the unit vector e_i,
    and RMSNorm turns it into sqrt(H) * e_i, so the LM head's column i, logits_table[i] / sqrt(H), gives
    the logits exactly (up to RMSNorm's eps). Tests hand-design a search with it, margins and all."""
    V = logits_table.shape[0]
    H = V + (-V) % 4  # hidden size: V rounded up to a multiple of the 2 heads * head_dim 2
    model = Llama(LlamaConfig(vocab_size=V, hidden_size=H, intermediate_size=4, num_hidden_layers=1,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=2))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
        model.embed_tokens.weight[:, :V] = torch.eye(V)
        model.lm_head.weight[:, :V] = logits_table.T / H ** 0.5
    return model.requires_grad_(False).eval()
