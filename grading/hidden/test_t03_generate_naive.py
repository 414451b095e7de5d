"""Hidden tests of t03_generate_naive: greedy generation that re-runs the whole sequence every step.

The model is a recording double (grading/doubles.py) around a small random Llama: it logs every call and
sleeps a known time per token, so the tests see what was fed to the model and whether each step was timed."""
import pytest
import torch

from grading.hidden import generation_runs
from grading.hidden.generation_runs import greedy

pytestmark = pytest.mark.task("t03_generate_naive")


def run(name, batch, length, n, delay=0.0, seed=0):
    return generation_runs.run("generate_naive", name, batch, length, n, delay, seed)


def test_tokens_and_whole_sequence_every_step():
    model, input_ids, result, recording = run("gqa3_untied", batch=3, length=4, n=5)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 5)), "greedy tokens differ"
    calls = recording.calls
    assert [c["tokens"] for c in calls] == [4, 5, 6, 7, 8], "each step feeds the whole sequence so far"
    assert not any(c["cached"] for c in calls), "generate_naive uses no cache"


def test_one_new_token_single_row():
    model, input_ids, result, recording = run("mha", batch=1, length=6, n=1, seed=3)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 1))


def test_each_step_is_timed_separately():
    _, _, result, recording = run("gqa_tied", batch=2, length=3, n=4, delay=0.002, seed=5)
    generation_runs.assert_each_step_timed_around_its_forward_pass(result, recording)
