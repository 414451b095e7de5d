"""Hidden tests of t03_generate_naive: greedy generation that re-runs the whole sequence every step.

The model is a recording double (grading/doubles.py) around a small random Llama: it logs every call and
sleeps a known time per token, so the tests see what was fed to the model and whether each step was timed."""
import pytest
import torch

from grading.hidden import generation_runs
from grading.hidden.generation_runs import greedy

pytestmark = pytest.mark.task("t03_generate_naive")

PROMISES = {
    "argmax": "takes the argmax of the last position's logits (B, V) as every row's next token and appends it",
    "whole_sequence": "Step i runs `model(ids)` on the T + i tokens so far",
    "tokens": "tokens: (B, T + n) int64, the prompt followed by the n generated tokens.",
    "step_times": "step_times: n durations in seconds; step i produced generated token i",
    "timed": "Each step is timed from just before the forward pass to just after the token is appended",
    "no_eos_stop": "max_new_tokens: n >= 1, how many tokens to generate (no early stop at EOS).",
}


def run(name, batch, length, n, delay=0.0, seed=0, eos_token_id=None):
    return generation_runs.run("generate_naive", name, batch, length, n, delay, seed, eos_token_id)


@pytest.mark.promise("argmax", "tokens", weight=3)
@pytest.mark.parametrize("name,batch,length,n,seed", [("gqa3_untied", 3, 4, 5, 0), ("mha", 1, 6, 1, 3)])
def test_greedy_tokens(name, batch, length, n, seed):
    model, input_ids, result, _ = run(name, batch=batch, length=length, n=n, seed=seed)
    assert torch.equal(result["tokens"], greedy(model, input_ids, n)), "greedy tokens differ"


@pytest.mark.promise("whole_sequence", weight=2.5)
def test_each_step_feeds_the_whole_sequence():
    _, _, _, recording = run("gqa3_untied", batch=3, length=4, n=5)
    calls = recording.calls
    assert [c["tokens"] for c in calls] == [4, 5, 6, 7, 8], "each step feeds the whole sequence so far"
    assert not any(c["cached"] for c in calls), "generate_naive uses no cache"


@pytest.mark.promise("timed", "step_times", weight=2)
def test_each_step_is_timed_separately():
    _, _, result, recording = run("gqa_tied", batch=2, length=3, n=4, delay=0.002, seed=5)
    generation_runs.assert_each_step_timed_around_its_forward_pass(result, recording.calls)


@pytest.mark.promise("no_eos_stop", weight=0.5)
def test_does_not_stop_at_eos():
    """The model's config names an EOS token that greedy decoding produces early: all n tokens still come."""
    generation_runs.assert_runs_past_eos("generate_naive")


@pytest.mark.promise("tokens", "step_times", "whole_sequence", weight=1)
def test_a_second_run_on_the_same_model_is_independent_of_the_first():
    """Two calls in a row on one model ((B, T, n) = (2, 3, 4), then (1, 5, 2)): each has its own tokens, step
    times and model calls."""
    model, runs = generation_runs.run_twice("generate_naive", "gqa_tied", [(2, 3, 4), (1, 5, 2)], seed=9)
    for input_ids, result, calls, _ in runs:
        n = len(result["step_times"])
        assert torch.equal(result["tokens"], greedy(model, input_ids, n)), "greedy tokens differ"
        T = input_ids.shape[1]
        assert [c["tokens"] for c in calls] == list(range(T, T + n)), "each step feeds the whole sequence so far"
