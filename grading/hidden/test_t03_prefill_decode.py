"""Hidden tests of t03_prefill_decode: one prefill forward over the prompt, then one-token decode steps.

The model is a recording double (grading/doubles.py) around a small random Llama: its cache only remembers
token ids (so the student's KVCache plays no part), it logs every call and sleeps a known time per token."""
import pytest
import torch

from grading.hidden import generation_runs
from grading.hidden.generation_runs import greedy

pytestmark = pytest.mark.task("t03_prefill_decode")


def run(name, batch, length, n, delay=0.0, seed=0):
    return generation_runs.run("prefill_decode", name, batch, length, n, delay, seed)


def test_tokens_prefill_then_one_token_steps():
    model, input_ids, result, recording = run("gqa3_untied", batch=3, length=5, n=6)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 6)), "greedy tokens differ"
    calls = recording.calls
    assert all(c["cached"] for c in calls), "every forward pass goes through the cache"
    assert [c["tokens"] for c in calls] == [5, 1, 1, 1, 1, 1], "prefill the prompt once, then feed one token per step"
    assert [c["cache_length"] for c in calls] == [0, 5, 6, 7, 8, 9]
    assert [(c.batch_size, c.max_seq_len) for c in recording.caches] == [(3, 11)], \
        "one cache, model.new_cache(B, T + max_new_tokens)"


def test_one_new_token_is_the_prefill_only():
    model, input_ids, result, recording = run("mha", batch=2, length=7, n=1, seed=3)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 1))
    assert [(c["tokens"], c["cached"]) for c in recording.calls] == [(7, True)], "the prefill goes through the cache"


def test_each_step_is_timed_separately():
    _, _, result, recording = run("gqa_tied", batch=2, length=6, n=4, delay=0.002, seed=5)
    generation_runs.assert_each_step_timed_around_its_forward_pass(result, recording)
