"""Hidden tests of t05_cached_attention: the student's cached_attention with a trusted KV cache
(grading/doubles.py), so that a wrong KVCache does not fail this task. Expected values come from the trusted
copy of the reference and from the model's uncached forward pass."""
import pytest
import torch

from grading.doubles import TrustedKVCache, trusted_cached_attention
from llmlab.checkpoint import load_model
from tests.adapters import build_rope, call, model_spec
from tests.random_llama import random_ids, random_llama

pytestmark = pytest.mark.task("t05_cached_attention")

PROMISES = {
    "formula": "softmax(q k^T / sqrt(hd) + mask) v",
    "causal": "new token i (position pos+i) sees the positions j <= pos + i (a causal mask aligned to the bottom "
              "right)",
    "gqa": "query head i uses key/value head i // (nh // nkv)",
    "rope": "`cos, sin = rope(positions)` gives the RoPE tables, (T, hd) each; apply them with "
            "`llmlab.model.apply_rope(x, cos, sin)`.",
    "positions": "pos: the absolute position of the first new token; the cache already holds positions 0..pos-1.",
    "writes_cache": "Causal attention of T new tokens over everything in the cache, writing their K/V into it.",
    "output": "(B, nh, T, hd):",
}

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 8}


def step(B, nh, nkv, hd, P, T, rope_config, seed):
    """Run one step in the sandbox and the same step on the trusted code; return (actual, expected)."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, n, T, hd, generator=g) for n in (nh, nkv, nkv))
    past_k, past_v = (torch.randn(B, nkv, P, hd, generator=g) for _ in range(2))
    actual = call("cached_attention_trusted_cache", q, k, v, past_k, past_v, 1, rope_config)
    cache = TrustedKVCache(2, B, P + T, nkv, hd)
    if P:
        cache.update(1, 0, past_k, past_v)
    out = trusted_cached_attention(q, k, v, cache, 1, P, build_rope(rope_config))
    expected = {"out": out, "k": cache.k[1], "v": cache.v[1], "length": P + T}
    assert isinstance(actual, dict) and isinstance(actual["out"], torch.Tensor)
    assert actual["out"].dtype == torch.float32
    shape = tuple(actual["out"].shape)
    assert shape == (B, nh, T, hd), f"output shape {shape}, expected {(B, nh, T, hd)}"
    return actual, expected


@pytest.mark.promise("formula", "causal", "gqa", "rope", "positions", "writes_cache", "output", weight=6)
@pytest.mark.parametrize("B,nh,nkv,hd,P,T,rope", [
    (2, 6, 2, 8, 0, 5, {"rope_theta": 5e5}),            # prefill, GQA 3 query heads per KV head
    (2, 6, 2, 8, 6, 1, {"rope_theta": 5e5}),            # one decode step
    (3, 4, 2, 6, 4, 3, {"rope_theta": 1e4}),            # a chunk after cached tokens
    (1, 4, 1, 16, 20, 2, {"rope_theta": 5e5, "rope_scaling": LLAMA3}),  # MQA, llama3 RoPE, far positions
    (2, 3, 3, 4, 5, 2, {}),                             # no GQA
], ids=["prefill", "decode", "chunk", "mqa_llama3", "mha"])
def test_one_step_output_and_cache(B, nh, nkv, hd, P, T, rope):
    actual, expected = step(B, nh, nkv, hd, P, T, {"head_dim": hd, **rope}, seed=P * 7 + T)
    torch.testing.assert_close(actual["out"], expected["out"], atol=1e-5, rtol=1e-5)
    assert actual["length"] == expected["length"], "the new K/V go into the cache (cache.update)"
    torch.testing.assert_close(actual["k"], expected["k"], atol=1e-5, rtol=1e-5,
                               msg="the cache holds the keys after RoPE, at positions pos..pos+T-1")
    torch.testing.assert_close(actual["v"], expected["v"], atol=1e-5, rtol=1e-5)


@pytest.mark.promise("formula", "causal", "gqa", "rope", "positions", "writes_cache", weight=6)
@pytest.mark.parametrize("name,chunks", [("gqa_tied", [7, 3, 1, 1]), ("llama3_mqa", [2, 1, 1, 1, 1, 1, 1, 1, 1]),
                                         ("gqa3_untied", [4, 4, 1, 1]), ("mha", [1, 5, 1, 3]),
                                         ("shipped", [6, 1, 2, 1])])
def test_cached_logits_equal_full_forward(name, chunks):
    model = load_model(device="cpu") if name == "shipped" else random_llama(name, seed=21)
    input_ids = random_ids(model.config.vocab_size, 2, sum(chunks), seed=22)
    cached = call("cached_logits_trusted_cache", model_spec(model), input_ids, chunks)
    assert isinstance(cached, torch.Tensor) and cached.shape == (2, sum(chunks), model.config.vocab_size)
    with torch.no_grad():
        torch.testing.assert_close(cached, model(input_ids), atol=1e-4, rtol=1e-4)
