"""Hidden tests of t03_prefill_decode: one prefill forward over the prompt, then one-token decode steps.

The model is a recording double (grading/doubles.py) around a small random Llama: its cache only remembers
token ids (so the student's KVCache plays no part), it logs every call and sleeps a known time per token."""
import pytest
import torch

from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama

pytestmark = pytest.mark.task("t03_prefill_decode")


def greedy(model, input_ids, n):
    """Trusted greedy tokens (B, T + n), from the reference model without a cache."""
    ids = input_ids
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


def run(name, batch, length, n, delay=0.0, seed=0):
    model = random_llama(name, seed=seed)
    input_ids = random_ids(model.config.vocab_size, batch, length, seed=seed + 1)
    result = call("prefill_decode_recorded", model_spec(model), input_ids, n, delay)
    assert isinstance(result, dict) and isinstance(result["tokens"], torch.Tensor)
    tokens, step_times = result["tokens"], result["step_times"]
    assert tokens.dtype == torch.int64, f"tokens must be int64, got {tokens.dtype}"
    assert tokens.shape == (batch, length + n), \
        f"tokens must be (B, T + n) = {(batch, length + n)}, got {tuple(tokens.shape)}"
    assert len(step_times) == n, f"expected {n} step times (one per new token), got {len(step_times)}"
    return model, input_ids, result


def test_tokens_prefill_then_one_token_steps():
    model, input_ids, result = run("gqa3_untied", batch=3, length=5, n=6)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 6)), "greedy tokens differ"
    calls = result["calls"]
    assert all(c["cached"] for c in calls), "every forward pass goes through the cache"
    assert [c["tokens"] for c in calls] == [5, 1, 1, 1, 1, 1], "prefill the prompt once, then feed one token per step"
    assert [c["cache_length"] for c in calls] == [0, 5, 6, 7, 8, 9]
    assert result["caches"] == [[3, 11]], "one cache, model.new_cache(B, T + max_new_tokens)"


def test_one_new_token_is_the_prefill_only():
    model, input_ids, result = run("mha", batch=2, length=7, n=1, seed=3)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 1))
    assert [c["tokens"] for c in result["calls"]] == [7]


def test_each_step_is_timed_separately():
    _, _, result = run("gqa_tied", batch=2, length=6, n=4, delay=0.002, seed=5)
    for i, (t, c) in enumerate(zip(result["step_times"], result["calls"])):
        assert isinstance(t, float) and t >= c["slept"], f"step {i} took at least {c['slept']} s, timed {t}"
    assert sum(result["step_times"]) <= result["wall"], "step times add up to more than the whole run"
