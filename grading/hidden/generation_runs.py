"""Shared by the hidden t03 tests: run a generation scenario on the recording double (grading/doubles.py), check
the shape of what comes back, and compute the trusted greedy tokens."""
import torch

from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama


def greedy(model, input_ids, n):
    """Trusted greedy tokens (B, T + n), from the reference model without a cache."""
    ids = input_ids
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


def run(scenario, name, batch, length, n, delay=0.0, seed=0):
    """(model, prompt, the scenario's result) for a random Llama `name` and a (batch, length) prompt."""
    model = random_llama(name, seed=seed)
    input_ids = random_ids(model.config.vocab_size, batch, length, seed=seed + 1)
    result = call(scenario, model_spec(model), input_ids, n, delay)
    assert isinstance(result, dict) and isinstance(result["tokens"], torch.Tensor)
    tokens, step_times = result["tokens"], result["step_times"]
    assert tokens.dtype == torch.int64, f"tokens must be int64, got {tokens.dtype}"
    assert tokens.shape == (batch, length + n), \
        f"tokens must be (B, T + n) = {(batch, length + n)}, got {tuple(tokens.shape)}"
    assert len(step_times) == n, f"expected {n} step times (one per new token), got {len(step_times)}"
    return model, input_ids, result


def assert_each_step_timed_separately(result):
    for i, (t, c) in enumerate(zip(result["step_times"], result["calls"])):
        assert isinstance(t, float) and t >= c["slept"], f"step {i} took at least {c['slept']} s, timed {t}"
    assert sum(result["step_times"]) <= result["wall"], "step times add up to more than the whole run"
