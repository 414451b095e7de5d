"""Notebook 04: FLOP counts (t04_flops).

Expected values are worked out by hand from the lecture's formulas, and the LLaMA count is compared with FLOPs
measured by two independent counters while the model runs: torch's FlopCounterMode and fvcore."""
import pytest
import torch

from tests.adapters import call
from tests.random_llama import CONFIGS, random_ids, random_llama

pytestmark = pytest.mark.task("t04_flops")


def flops(name, *args):
    value = call("flops", name, *args)
    assert type(value) is int, f"{name} must return a Python int, got {type(value).__name__}"
    return value


def test_matmul():
    assert flops("matmul_flops", 2, 3, 4) == 48  # 2*4 entries, each 3 multiplications and 3 additions
    assert flops("matmul_flops", 1, 5, 1) == 10  # a dot product of length 5: the lecture's 2n


def test_layer_parts_small_case():
    # b=2, s=3, h=4: 8bsh^2 = 768, 4bs^2h = 288, 16bsh^2 = 1536
    assert flops("attention_flops", 2, 3, 4) == 768 + 288
    assert flops("mlp_flops", 2, 3, 4) == 1536
    assert flops("layer_flops", 2, 3, 4) == 768 + 288 + 1536


@pytest.mark.parametrize("b,s,h", [(1, 1, 1), (1, 7, 64), (4, 128, 768), (3, 1000, 4096)])
def test_lecture_formulas(b, s, h):
    assert flops("attention_flops", b, s, h) == 8 * b * s * h**2 + 4 * b * s**2 * h
    assert flops("mlp_flops", b, s, h) == 16 * b * s * h**2
    assert flops("layer_flops", b, s, h) == 24 * b * s * h**2 + 4 * b * s**2 * h


def test_decode_step_small_case():
    # b=2, s=5 tokens before the new one, h=4
    assert flops("decode_step_flops", 2, 5, 4, True) == 24 * 2 * 16 + 4 * 2 * 6 * 4  # 6 keys: 5 cached + own
    assert flops("decode_step_flops", 2, 5, 4, False) == 24 * 2 * 6 * 16 + 4 * 2 * 36 * 4  # all 6 tokens again


@pytest.mark.parametrize("b,s,h", [(1, 0, 8), (2, 10, 64), (8, 511, 1024)])
def test_decode_step_with_and_without_cache(b, s, h):
    assert flops("decode_step_flops", b, s, h, True) == 24 * b * h**2 + 4 * b * (s + 1) * h
    assert flops("decode_step_flops", b, s, h, False) == flops("layer_flops", b, s + 1, h)


def test_generation_small_case():
    # b=1, prompt s=3, h=2, n=3 new tokens, 2 layers: prefill 360, then steps for positions 3 and 4
    assert flops("generation_flops", 1, 3, 2, 3, 2, True) == 2 * (360 + 128 + 136)
    assert flops("generation_flops", 1, 3, 2, 3, 2, False) == 2 * (360 + 512 + 680)
    assert flops("generation_flops", 1, 3, 2, 1, 2, True) == 2 * 360  # one new token: the prefill only


@pytest.mark.parametrize("b,s,h,n,layers", [(1, 16, 64, 10, 2), (4, 100, 256, 50, 12)])
def test_generation_without_cache_reruns_the_growing_sequence(b, s, h, n, layers):
    # the lecture: the k-th new token needs a forward pass over s + k - 1 tokens
    expected = layers * sum(24 * b * t * h**2 + 4 * b * t**2 * h for t in range(s, s + n))
    assert flops("generation_flops", b, s, h, n, layers, False) == expected
    cached = layers * (24 * b * s * h**2 + 4 * b * s**2 * h
                       + sum(24 * b * h**2 + 4 * b * (t + 1) * h for t in range(s, s + n - 1)))
    assert flops("generation_flops", b, s, h, n, layers, True) == cached


def test_llama_layer_small_case():
    # b=1, s=2, h=4, nh=2, nkv=1, hd=3, I=5
    q_o = 2 * (2 * 2 * 4 * 6)    # (2, 4) @ (4, 6) and (2, 6) @ (6, 4)
    k_v = 2 * (2 * 2 * 4 * 3)    # (2, 4) @ (4, 3) twice: one KV head
    attend = 2 * 2 * (2 * 2 * 3 * 2)  # per head: scores (2, 3) @ (3, 2) and weights (2, 2) @ (2, 3)
    mlp = 3 * (2 * 2 * 4 * 5)
    assert flops("llama_layer_flops", 1, 2, 4, 2, 1, 3, 5) == q_o + k_v + attend + mlp


def test_llama_layer_without_gqa_is_the_lecture_attention_plus_swiglu():
    b, s, h, nh, inter = 2, 9, 64, 8, 172
    expected = 8 * b * s * h**2 + 4 * b * s**2 * h + 3 * 2 * b * s * h * inter
    assert flops("llama_layer_flops", b, s, h, nh, nh, h // nh, inter) == expected


def test_llama_forward_counts_lm_head():
    config = dict(vocab_size=1000, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16)
    layer = flops("llama_layer_flops", 2, 5, 64, 4, 2, 16, 160)
    assert call("llama_forward_flops", config, 2, 5) == 3 * layer + 2 * 2 * 5 * 64 * 1000


def measured_by_torch(model, input_ids):
    """FLOPs counted by torch.utils.flop_counter (2 per multiply-add). The fused CPU attention kernel has no
    FLOP formula, so attention runs on the math backend, whose matrix products are counted."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(input_ids)
    return counter.get_total_flops()


def measured_by_fvcore(model, input_ids):
    """FLOPs counted by fvcore, which counts 1 per multiply-add and knows nothing of
    scaled_dot_product_attention: we give it that op's count, Q K^T and weights @ V."""
    from fvcore.nn import FlopCountAnalysis

    def sdpa_macs(inputs, outputs):
        (b, nh, s, hd), keys = inputs[0].type().sizes(), inputs[1].type().sizes()[2]
        return b * nh * s * keys * hd * 2

    analysis = FlopCountAnalysis(model, input_ids).set_op_handle("aten::scaled_dot_product_attention", sdpa_macs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return 2 * analysis.total()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fvcore traces with torch.jit
@pytest.mark.parametrize("name", ["gqa3_untied", "llama3_mqa"])
def test_llama_forward_matches_measured_flops(name):
    model = random_llama(name)
    b, s = 2, 9
    predicted = call("llama_forward_flops", CONFIGS[name], b, s)
    input_ids = random_ids(model.config.vocab_size, b, s)
    for measured in measured_by_torch(model, input_ids), measured_by_fvcore(model, input_ids):
        assert abs(predicted - measured) <= 0.01 * measured, (predicted, measured)
