"""Notebook 05: the KV cache (t05_kv_cache) and attention over it (t05_cached_attention).

Expected values: hand-computed sizes, plain tensor bookkeeping, transformers' own attention pieces
(LlamaRotaryEmbedding, apply_rotary_pos_emb, repeat_kv) and transformers' LlamaForCausalLM on the same
weights. Feeding a sequence through the cache, in any chunks, must give the logits of one full forward pass."""
import pytest
import torch
import transformers
from transformers.models.llama.modeling_llama import LlamaConfig as HFConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb, repeat_kv

from llmlab.checkpoint import SHIPPED
from tests.adapters import call, model_spec
from tests.asserts import assert_tensor, assert_tensor_equal
from tests.random_llama import random_ids, random_llama, to_hf

SIZES = dict(n_layers=2, batch_size=2, max_seq_len=8, n_kv_heads=3, head_dim=4)


def kv(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)


# ---- t05_kv_cache -----------------------------------------------------------------------------------------

@pytest.mark.task("t05_kv_cache")
def test_buffers_are_preallocated():
    [k, v] = call("kv_cache", SIZES, [("buffers",)])[0]
    assert_tensor(k, torch.float32, (2, 2, 3, 8, 4), "KVCache(**SIZES).k")
    assert_tensor(v, torch.float32, (2, 2, 3, 8, 4), "KVCache(**SIZES).v")


@pytest.mark.task("t05_kv_cache")
def test_update_returns_everything_cached_so_far():
    k1, v1 = kv(2, 3, 5, 4, seed=1)
    k2, v2 = kv(2, 3, 1, 4, seed=2)
    length0, (a, b), length1, (c, d), length2 = call("kv_cache", SIZES, [
        ("length",), ("update", 0, 0, k1, v1), ("length",), ("update", 0, 5, k2, v2), ("length",)])
    assert (length0, length1, length2) == (0, 5, 6)
    assert_tensor(a, torch.float32, (2, 3, 5, 4), "update's keys after 5 positions")
    assert_tensor(c, torch.float32, (2, 3, 6, 4), "update's keys after 6 positions")
    torch.testing.assert_close(a, k1, atol=0, rtol=0)
    torch.testing.assert_close(b, v1, atol=0, rtol=0)
    torch.testing.assert_close(c, torch.cat([k1, k2], dim=2), atol=0, rtol=0)
    torch.testing.assert_close(d, torch.cat([v1, v2], dim=2), atol=0, rtol=0)


@pytest.mark.task("t05_kv_cache")
def test_layers_are_separate_and_length_counts_positions_not_layers():
    k0, v0 = kv(2, 3, 3, 4, seed=3)
    k1, v1 = kv(2, 3, 3, 4, seed=4)
    k2, v2 = kv(2, 3, 1, 4, seed=5)
    _, (c, d), length, (e, f) = call("kv_cache", SIZES, [("update", 0, 0, k0, v0), ("update", 1, 0, k1, v1),
                                                          ("length",), ("update", 0, 3, k2, v2)])
    assert length == 3  # every layer stores the same 3 positions
    torch.testing.assert_close(c, k1, atol=0, rtol=0)
    torch.testing.assert_close(d, v1, atol=0, rtol=0)
    torch.testing.assert_close(e, torch.cat([k0, k2], dim=2), atol=0, rtol=0)  # layer 1 left layer 0 alone
    torch.testing.assert_close(f, torch.cat([v0, v2], dim=2), atol=0, rtol=0)


@pytest.mark.task("t05_kv_cache")
def test_reset_empties_the_cache():
    k1, v1 = kv(2, 3, 6, 4, seed=5)
    k2, v2 = kv(2, 3, 2, 4, seed=6)
    _, _, length, (a, b), length2 = call("kv_cache", SIZES, [("update", 0, 0, k1, v1), ("reset",), ("length",),
                                                              ("update", 0, 0, k2, v2), ("length",)])
    assert length == 0 and length2 == 2
    torch.testing.assert_close(a, k2, atol=0, rtol=0)


@pytest.mark.task("t05_kv_cache")
@pytest.mark.parametrize("dtype,size", [("float32", 4), ("float16", 2), ("bfloat16", 2), ("float64", 8)])
def test_memory_bytes(dtype, size):
    sizes = dict(n_layers=3, batch_size=2, max_seq_len=10, n_kv_heads=2, head_dim=8, dtype=dtype)
    [memory] = call("kv_cache", sizes, [("memory_bytes",)])
    assert memory == 2 * 3 * 2 * 10 * 2 * 8 * size  # K and V, for every layer, batch row, position, head


@pytest.mark.task("t05_kv_cache")
def test_keeps_the_dtype():
    k, v = (t.half() for t in kv(2, 3, 2, 4))
    [(a, b)] = call("kv_cache", dict(SIZES, dtype="float16"), [("update", 1, 0, k, v)])
    assert a.dtype == b.dtype == torch.float16


def error_name(scenario, *args):
    """The name of the exception that scenario raises (in this process or in the grader's sandbox), or None."""
    try:
        call(scenario, *args)
    except Exception as e:  # noqa: BLE001
        return getattr(e, "kind", None) or type(e).__name__  # the sandbox's SubmissionError has `kind`
    return None


@pytest.mark.task("t05_kv_cache")
def test_overflow_raises_value_error():
    k, v = kv(2, 3, 3, 4)
    assert error_name("kv_cache", SIZES, [("update", 0, 6, k[:, :, :2], v[:, :, :2])]) is None  # 6, 7 fit
    assert error_name("kv_cache", SIZES, [("update", 0, 6, k, v)]) == "ValueError"  # 6, 7, 8: one too many


# ---- t05_cached_attention ---------------------------------------------------------------------------------

def hf_cached_attention(q, k, v, past_k, past_v, rope_theta):
    """The same step with transformers' pieces: RoPE at positions P..P+T-1, cat onto the cache, repeat_kv,
    softmax(q k^T / sqrt(hd) + bottom-right causal mask) v."""
    B, nh, T, hd = q.shape
    P = past_k.shape[2]
    config = HFConfig(hidden_size=nh * hd, num_attention_heads=nh, head_dim=hd,
                      rope_parameters={"rope_type": "default", "rope_theta": rope_theta})
    position_ids = torch.arange(P, P + T)[None].expand(B, T)
    cos, sin = LlamaRotaryEmbedding(config)(q, position_ids)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    n_rep = nh // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
    scores = q @ k.transpose(2, 3) / hd**0.5                         # (B, nh, T, P+T)
    visible = torch.arange(P + T)[None, :] <= P + torch.arange(T)[:, None]
    scores = scores.masked_fill(~visible, float("-inf"))
    return scores.softmax(dim=-1) @ v


@pytest.mark.task("t05_cached_attention")
@pytest.mark.parametrize("P,T", [(0, 5), (5, 1), (4, 3)], ids=["prefill", "decode", "chunk"])
def test_one_step_equals_transformers_pieces(P, T):
    B, nh, nkv, hd, theta = 2, 6, 2, 8, 5e5
    g = torch.Generator().manual_seed(P * 10 + T)
    q, k, v = (torch.randn(B, n, T, hd, generator=g) for n in (nh, nkv, nkv))
    past_k, past_v = (torch.randn(B, nkv, P, hd, generator=g) for _ in range(2))
    out, length = call("cached_attention", q, k, v, past_k, past_v, 1, {"head_dim": hd, "rope_theta": theta})
    assert_tensor(out, torch.float32, (B, nh, T, hd), "cached_attention output")
    assert length == P + T
    torch.testing.assert_close(out, hf_cached_attention(q, k, v, past_k, past_v, theta), atol=1e-5, rtol=1e-5)


@pytest.mark.task("t05_cached_attention")
@pytest.mark.parametrize("name,chunks", [("gqa_tied", [7, 3, 1, 1]), ("gqa3_untied", [1] * 12),
                                         ("llama3_mqa", [12]), ("mha", [2, 5, 5])])
def test_cached_logits_equal_one_full_forward(name, chunks):
    model = random_llama(name, seed=5)
    input_ids = random_ids(model.config.vocab_size, 3, sum(chunks), seed=6)
    cached = call("cached_logits", model_spec(model), input_ids, chunks)
    assert cached.shape == (3, sum(chunks), model.config.vocab_size)
    with torch.no_grad():
        expected = to_hf(model)(input_ids).logits  # transformers, eager attention, no cache
    torch.testing.assert_close(cached, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.task("t05_cached_attention")
def test_greedy_tokens_with_the_cache_equal_transformers_on_the_shipped_model():
    input_ids = torch.tensor([[1, 5, 9, 20, 33, 7], [1, 40, 41, 7, 8, 9]])
    hf = transformers.LlamaForCausalLM.from_pretrained(SHIPPED, attn_implementation="eager")
    hf.generation_config.eos_token_id = None  # generate exactly 16 tokens, as the loop does
    with torch.no_grad():
        expected = hf.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=16,
                               do_sample=False, pad_token_id=0)
    assert_tensor_equal(call("cached_greedy", "shipped", input_ids, 16), expected, "greedy tokens with the cache")
