"""Hidden tests of t04_flops: FLOP counts by hand and from the lecture's formulas (no student code needed to
compute the expectations)."""
import pytest

from tests.adapters import call

pytestmark = pytest.mark.task("t04_flops")


def flops(name, *args):
    value = call("flops", name, *args)
    assert type(value) is int, f"{name} must return a Python int, got {type(value).__name__}"
    return value


def llama(config, b, s):
    value = call("llama_forward_flops", config, b, s)
    assert type(value) is int, f"llama_forward_flops must return a Python int, got {type(value).__name__}"
    return value


def test_matmul_counts_multiplications_and_additions():
    assert flops("matmul_flops", 3, 5, 7) == 210
    assert flops("matmul_flops", 4, 1, 9) == 72


@pytest.mark.parametrize("b,s,h", [(1, 2, 3), (3, 5, 8), (2, 17, 96)])
def test_layer_parts(b, s, h):
    assert flops("attention_flops", b, s, h) == 8 * b * s * h * h + 4 * b * s * s * h
    assert flops("mlp_flops", b, s, h) == 16 * b * s * h * h
    assert flops("layer_flops", b, s, h) == 24 * b * s * h * h + 4 * b * s * s * h


@pytest.mark.parametrize("b,s,h", [(1, 0, 4), (2, 3, 5), (3, 9, 16)])
def test_decode_step_sees_s_plus_one_positions(b, s, h):
    assert flops("decode_step_flops", b, s, h, True) == 24 * b * h * h + 4 * b * (s + 1) * h
    t = s + 1
    assert flops("decode_step_flops", b, s, h, False) == 24 * b * t * h * h + 4 * b * t * t * h


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("b,s,h,n,layers", [(1, 4, 3, 1, 2), (2, 3, 4, 2, 1), (1, 5, 6, 4, 3)])
def test_generation_is_prefill_plus_n_minus_1_steps(b, s, h, n, layers, cached):
    prefill = 24 * b * s * h * h + 4 * b * s * s * h
    if cached:
        steps = sum(24 * b * h * h + 4 * b * (p + 1) * h for p in range(s, s + n - 1))
    else:
        steps = sum(24 * b * t * h * h + 4 * b * t * t * h for t in range(s + 1, s + n))
    assert flops("generation_flops", b, s, h, n, layers, cached) == layers * (prefill + steps)


def test_llama_layer_gqa_and_swiglu():
    # b=2, s=3, h=8, nh=4, nkv=2, hd=3, I=11
    b, s, h, nh, nkv, hd, inter = 2, 3, 8, 4, 2, 3, 11
    q_o = 2 * (2 * b * s * h * nh * hd)
    k_v = 2 * (2 * b * s * h * nkv * hd)
    attend = b * nh * 2 * (2 * s * s * hd)
    mlp = 3 * 2 * b * s * h * inter
    assert flops("llama_layer_flops", b, s, h, nh, nkv, hd, inter) == q_o + k_v + attend + mlp


def test_llama_forward_layers_and_lm_head():
    config = dict(vocab_size=500, hidden_size=32, intermediate_size=90, num_hidden_layers=5,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=6)
    b, s = 3, 7
    layer = (2 * 2 * b * s * 32 * 48 + 2 * 2 * b * s * 32 * 12 + b * 8 * 4 * s * s * 6 + 6 * b * s * 32 * 90)
    assert llama(config, b, s) == 5 * layer + 2 * b * s * 32 * 500
