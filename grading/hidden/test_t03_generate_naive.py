"""Hidden tests of t03_generate_naive: greedy generation that re-runs the whole sequence every step.

The model is a recording double (grading/doubles.py) around a small random Llama: it logs every call and
sleeps a known time per token, so the tests see what was fed to the model and whether each step was timed."""
import pytest
import torch

from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama

pytestmark = pytest.mark.task("t03_generate_naive")


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
    result = call("naive_recorded", model_spec(model), input_ids, n, delay)
    assert isinstance(result, dict) and isinstance(result["tokens"], torch.Tensor)
    tokens, step_times = result["tokens"], result["step_times"]
    assert tokens.dtype == torch.int64, f"tokens must be int64, got {tokens.dtype}"
    assert tokens.shape == (batch, length + n), \
        f"tokens must be (B, T + n) = {(batch, length + n)}, got {tuple(tokens.shape)}"
    assert len(step_times) == n, f"expected {n} step times (one per new token), got {len(step_times)}"
    return model, input_ids, result


def test_tokens_and_whole_sequence_every_step():
    model, input_ids, result = run("gqa3_untied", batch=3, length=4, n=5)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 5)), "greedy tokens differ"
    calls = result["calls"]
    assert [c["tokens"] for c in calls] == [4, 5, 6, 7, 8], "each step feeds the whole sequence so far"
    assert not any(c["cached"] for c in calls), "generate_naive uses no cache"


def test_one_new_token_single_row():
    model, input_ids, result = run("mha", batch=1, length=6, n=1, seed=3)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 1))


def test_each_step_is_timed_separately():
    _, _, result = run("gqa_tied", batch=2, length=3, n=4, delay=0.002, seed=5)
    for i, (t, c) in enumerate(zip(result["step_times"], result["calls"])):
        assert isinstance(t, float) and t >= c["slept"], f"step {i} took at least {c['slept']} s, timed {t}"
    assert sum(result["step_times"]) <= result["wall"], "step times add up to more than the whole run"
