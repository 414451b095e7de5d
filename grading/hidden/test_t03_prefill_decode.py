"""Hidden tests of t03_prefill_decode: one prefill forward over the prompt, then one-token decode steps.

The model is a recording double (grading/doubles.py) around a small random Llama: its cache only remembers
token ids (so the student's KVCache plays no part), it logs every call and sleeps a known time per token."""
import pytest
import torch

from grading.hidden import generation_runs
from grading.hidden.generation_runs import greedy

pytestmark = pytest.mark.task("t03_prefill_decode")

PROMISES = {
    "same_tokens": "with the same tokens as generate_naive",
    "tokens": "tokens: (B, T + n) int64, the prompt followed by the n generated tokens.",
    "new_cache": "cache = model.new_cache(B, T + n).",
    "prefill": "Step 0 (prefill): `model(input_ids, cache, last_only=True)`; the argmax of its logits is the first "
               "new token",
    "decode": "Steps 1..n-1 (decode): feed only the previous step's token, `model(token (B, 1), cache)`, and take "
              "the argmax.",
    "last_not_fed": "The last new token is never fed back: n tokens take n forward passes.",
    "step_times": "step_times: n durations in seconds; step i produced generated token i (step 0 is the prefill).",
    "timed": "Each step is timed as in generate_naive.",
    "no_eos_stop": "max_new_tokens: n >= 1, how many tokens to generate (no early stop at EOS).",
}


def run(name, batch, length, n, delay=0.0, seed=0, eos_token_id=None):
    return generation_runs.run("prefill_decode", name, batch, length, n, delay, seed, eos_token_id)


def assert_prefill_then_decode(calls, T, n):
    assert all(c["cached"] for c in calls), "every forward pass goes through the cache"
    assert [c["tokens"] for c in calls] == [T] + [1] * (n - 1), \
        "prefill the prompt once, then feed one token per step (the last new token is not fed back)"
    assert [c["cache_length"] for c in calls] == [0] + list(range(T, T + n - 1)), \
        "each step continues the cache: the prefill starts it empty, each decode step adds one token"


@pytest.mark.promise("same_tokens", "tokens", weight=2)
@pytest.mark.parametrize("name,batch,length,n,seed", [("gqa3_untied", 3, 5, 6, 0), ("mha", 2, 7, 1, 3)])
def test_greedy_tokens(name, batch, length, n, seed):
    model, input_ids, result, _ = run(name, batch=batch, length=length, n=n, seed=seed)
    assert torch.equal(result["tokens"], greedy(model, input_ids, n)), "greedy tokens differ"


@pytest.mark.promise("prefill", "decode", "last_not_fed", weight=4)
def test_prefill_then_one_token_steps_through_the_cache():
    _, _, _, recording = run("gqa3_untied", batch=3, length=5, n=6)
    assert_prefill_then_decode(recording.calls, 5, 6)


@pytest.mark.promise("new_cache", weight=1)
def test_one_cache_for_the_prompt_and_the_new_tokens():
    _, _, _, recording = run("llama3_mqa", batch=2, length=4, n=3, seed=2)
    assert [(c.batch_size, c.max_seq_len) for c in recording.caches] == [(2, 7)], \
        "one cache, model.new_cache(B, T + max_new_tokens)"


@pytest.mark.promise("prefill", "last_not_fed", weight=1)
def test_one_new_token_is_the_prefill_only():
    model, input_ids, result, recording = run("mha", batch=2, length=7, n=1, seed=3)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 1))
    assert [(c["tokens"], c["cached"]) for c in recording.calls] == [(7, True)], "the prefill goes through the cache"


@pytest.mark.promise("timed", "step_times", weight=2)
def test_each_step_is_timed_separately():
    _, _, result, recording = run("gqa_tied", batch=2, length=6, n=4, delay=0.002, seed=5)
    generation_runs.assert_each_step_timed_around_its_forward_pass(result, recording.calls)


@pytest.mark.promise("no_eos_stop", weight=0.5)
def test_does_not_stop_at_eos():
    """The model's config names an EOS token that greedy decoding produces early: all n tokens still come."""
    generation_runs.assert_runs_past_eos("prefill_decode")


@pytest.mark.promise("same_tokens", "new_cache", "prefill", "decode", weight=1.5)
def test_a_second_run_on_the_same_model_is_independent_of_the_first():
    """Two calls in a row on one model ((B, T, n) = (2, 3, 4), then (2, 3, 4) with another prompt): each has its
    own tokens, its own new cache and its own prefill."""
    model, runs = generation_runs.run_twice("prefill_decode", "gqa_tied", [(2, 3, 4), (2, 3, 4)], seed=9)
    for input_ids, result, calls, caches in runs:
        assert torch.equal(result["tokens"], greedy(model, input_ids, 4)), "greedy tokens differ"
        assert [(c.batch_size, c.max_seq_len) for c in caches] == [(2, 7)], "one new cache per run"
        assert_prefill_then_decode(calls, 3, 4)
