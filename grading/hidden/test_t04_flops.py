"""Hidden tests of t04_flops: FLOP counts by hand and from the lecture's formulas (no student code needed to
compute the expectations)."""
from dataclasses import asdict

import pytest

from llmlab.checkpoint import SHIPPED, load_config
from tests.adapters import call
from tests.random_llama import CONFIGS

pytestmark = pytest.mark.task("t04_flops")

PROMISES = {
    "int": "Every function returns a Python int.",
    "matmul": "FLOPs of (m, n) @ (n, p): 2mnp",
    "attention": "FLOPs of the lecture's self-attention block on s tokens: 8bsh^2 + 4bs^2h.",
    "mlp": "up-projection (h -> 4h) and down-projection (4h -> h), 16bsh^2.",
    "layer": "FLOPs of one decoder layer (attention + MLP) run on s tokens: 24bsh^2 + 4bs^2h.",
    "decode_cached": "Total: 24bh^2 + 4b(s+1)h, linear in s.",
    "decode_uncached": "layer_flops(b, s + 1, h) = 24b(s+1)h^2 + 4b(s+1)^2h, quadratic in s.",
    "generation": "Each of the n - 1 decoding steps that follow feeds the previous new token: step i = 1..n-1 feeds "
                  "the token at position s + i - 1, costing decode_step_flops(b, s + i - 1, h, cached) per layer.",
    "prefill": "The prefill runs the s prompt tokens through every layer (layer_flops(b, s, h) each)",
    "gqa": "GQA: W_q is (h, nh*hd) and W_o is (nh*hd, h), but W_k and W_v are only (h, nkv*hd) wide.",
    "per_head_attention": "each of the nh query heads computes its own scores (s, hd) @ (hd, s) and weighted "
                          "values (s, s) @ (s, hd), even though groups of heads share K and V: 4*b*nh*s^2*hd.",
    "swiglu": "SwiGLU MLP: three (h, I) matrices, gate and up (h -> I) and down (I -> h): 6bshI.",
    "lm_head": "then the LM head (h -> V) on all s positions (as `model(ids)` computes logits for every position): "
               "2bshV.",
    "config": "config: a llmlab.model.LlamaConfig (or transformers' LlamaConfig); its fields hidden_size, "
              "num_attention_heads, num_key_value_heads, head_dim, intermediate_size, num_hidden_layers and "
              "vocab_size give the sizes.",
}


def flops(name, *args):
    value = call("flops", name, *args)
    assert type(value) is int, f"{name} must return a Python int, got {type(value).__name__}"
    return value


def llama(config, b, s):
    value = call("llama_forward_flops", config, b, s)
    assert type(value) is int, f"llama_forward_flops must return a Python int, got {type(value).__name__}"
    return value


@pytest.mark.promise("matmul", "int", weight=1)
def test_matmul_counts_multiplications_and_additions():
    assert flops("matmul_flops", 3, 5, 7) == 210
    assert flops("matmul_flops", 4, 1, 9) == 72


@pytest.mark.promise("attention", "mlp", "layer", "int", weight=2)
@pytest.mark.parametrize("b,s,h", [(1, 2, 3), (3, 5, 8), (2, 17, 96)])
def test_layer_parts(b, s, h):
    assert flops("attention_flops", b, s, h) == 8 * b * s * h * h + 4 * b * s * s * h
    assert flops("mlp_flops", b, s, h) == 16 * b * s * h * h
    assert flops("layer_flops", b, s, h) == 24 * b * s * h * h + 4 * b * s * s * h


@pytest.mark.promise("decode_cached", "decode_uncached", weight=2)
@pytest.mark.parametrize("b,s,h", [(1, 0, 4), (2, 3, 5), (3, 9, 16)])
def test_decode_step_sees_s_plus_one_positions(b, s, h):
    assert flops("decode_step_flops", b, s, h, True) == 24 * b * h * h + 4 * b * (s + 1) * h
    t = s + 1
    assert flops("decode_step_flops", b, s, h, False) == 24 * b * t * h * h + 4 * b * t * t * h


@pytest.mark.promise("generation", "prefill", weight=2)
@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("b,s,h,n,layers", [(1, 4, 3, 1, 2), (2, 3, 4, 2, 1), (1, 5, 6, 4, 3)])
def test_generation_is_prefill_plus_n_minus_1_steps(b, s, h, n, layers, cached):
    prefill = 24 * b * s * h * h + 4 * b * s * s * h
    if cached:
        steps = sum(24 * b * h * h + 4 * b * (p + 1) * h for p in range(s, s + n - 1))
    else:
        steps = sum(24 * b * t * h * h + 4 * b * t * t * h for t in range(s + 1, s + n))
    assert flops("generation_flops", b, s, h, n, layers, cached) == layers * (prefill + steps)


@pytest.mark.promise("gqa", "per_head_attention", "swiglu", weight=1.5)
def test_llama_layer_gqa_and_swiglu():
    # b=2, s=3, h=8, nh=4, nkv=2, hd=3, I=11
    b, s, h, nh, nkv, hd, inter = 2, 3, 8, 4, 2, 3, 11
    q_o = 2 * (2 * b * s * h * nh * hd)
    k_v = 2 * (2 * b * s * h * nkv * hd)
    attend = b * nh * 2 * (2 * s * s * hd)
    mlp = 3 * 2 * b * s * h * inter
    assert flops("llama_layer_flops", b, s, h, nh, nkv, hd, inter) == q_o + k_v + attend + mlp


@pytest.mark.promise("lm_head", "config", weight=0.5)
def test_llama_forward_layers_and_lm_head():
    config = dict(vocab_size=500, hidden_size=32, intermediate_size=90, num_hidden_layers=5,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=6)
    b, s = 3, 7
    layer = (2 * 2 * b * s * 32 * 48 + 2 * 2 * b * s * 32 * 12 + b * 8 * 4 * s * s * 6 + 6 * b * s * 32 * 90)
    assert llama(config, b, s) == 5 * layer + 2 * b * s * 32 * 500


def lecture_llama_forward(c: dict, b, s):
    """The docstrings' formulas, written out: per layer Q and O (2bsh*nh*hd each), K and V (2bsh*nkv*hd each),
    attention 4*b*nh*s^2*hd, SwiGLU 6bshI; then the LM head 2bshV (tied embeddings or not: it is computed)."""
    h, nh, nkv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    layer = 2 * 2 * b * s * h * nh * hd + 2 * 2 * b * s * h * nkv * hd + 4 * b * nh * s * s * hd \
        + 6 * b * s * h * c["intermediate_size"]
    return c["num_hidden_layers"] * layer + 2 * b * s * h * c["vocab_size"]


CHECKPOINT_CONFIGS = {"shipped": asdict(load_config(SHIPPED))} | {
    name: {"num_key_value_heads": config["num_attention_heads"], "head_dim": config["hidden_size"]
           // config["num_attention_heads"], **config} for name, config in CONFIGS.items()}


@pytest.mark.promise("lm_head", "config", "gqa", weight=2)
@pytest.mark.parametrize("name", list(CHECKPOINT_CONFIGS))
def test_llama_forward_on_every_checkpoint_config(name):
    """llama_forward_flops on the shipped checkpoint's config and the test models' configs (tied and untied
    embeddings, GQA, MQA and plain multi-head attention, head_dim other than hidden_size / heads), b=2, s=5."""
    config = CHECKPOINT_CONFIGS[name]
    assert llama(config, 2, 5) == lecture_llama_forward(config, 2, 5)


@pytest.mark.promise("config", weight=0.5)
def test_llama_forward_takes_a_transformers_config():
    """llama_forward_flops(transformers.LlamaConfig(...), 1, 4) with head_dim 16 != hidden_size / heads."""
    config = {k: CONFIGS["gqa_tied"][k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                                  "num_attention_heads", "num_key_value_heads", "head_dim",
                                                  "tie_word_embeddings")}
    value = call("llama_forward_flops", config, 1, 4, transformers_config=True)
    assert type(value) is int, f"llama_forward_flops must return a Python int, got {type(value).__name__}"
    assert value == lecture_llama_forward(config, 1, 4)
