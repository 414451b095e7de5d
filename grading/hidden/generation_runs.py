"""Shared by the hidden t03 tests: run generate_naive or prefill_decode on a recording model served from this
trusted process (grading/doubles.py), check the shape of what comes back, and compute the trusted greedy
tokens. The calls and their times are recorded here, where student code cannot reach them."""
import dataclasses
import time

import torch

from grading.doubles import RecordingModel, serving
from tests.adapters import call
from tests.random_llama import random_ids, random_llama


def greedy(model, input_ids, n):
    """Trusted greedy tokens (B, T + n), from the reference model without a cache."""
    ids = input_ids
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


def run(fn_name, name, batch, length, n, delay=0.0, seed=0, eos_token_id=None):
    """(model, prompt, result, recording) for llmlab.generation.<fn_name> on a random Llama `name` and a
    (batch, length) prompt. result: {"tokens", "step_times", "start", "end"} (start/end: perf_counter() just
    before and after the whole call); recording: the RecordingModel with its calls and caches. eos_token_id:
    the model's config says so (generation must not stop there)."""
    model = random_llama(name, seed=seed)
    input_ids = random_ids(model.config.vocab_size, batch, length, seed=seed + 1)
    recording = RecordingModel(model, delay)
    recording.config = dataclasses.replace(model.config, eos_token_id=eos_token_id)
    with serving(recording):
        result = run_served(fn_name, input_ids, n)
    return model, input_ids, result, recording


def run_served(fn_name, input_ids, n):
    """One call of llmlab.generation.<fn_name> on the model being served: {"tokens", "step_times", "start",
    "end"}, its shape checked."""
    start = time.perf_counter()
    result = call("generation_on_served_model", fn_name, input_ids, n)
    end = time.perf_counter()
    assert isinstance(result, dict) and isinstance(result["tokens"], torch.Tensor)
    tokens, step_times = result["tokens"], result["step_times"]
    batch, length = input_ids.shape
    assert tokens.dtype == torch.int64, f"tokens must be int64, got {tokens.dtype}"
    assert tokens.shape == (batch, length + n), \
        f"tokens must be (B, T + n) = {(batch, length + n)}, got {tuple(tokens.shape)}"
    assert len(step_times) == n, f"expected {n} step times (one per new token), got {len(step_times)}"
    assert all(type(t) is float for t in step_times), "step times are floats (seconds)"
    return result | {"start": start, "end": end}


def run_twice(fn_name, name, prompts, seed=0):
    """Two calls on the same served model, one per (batch, length, n) of `prompts`: [(prompt, result, the calls
    of that run, the caches it made)] and the model."""
    model = random_llama(name, seed=seed)
    recording, runs = RecordingModel(model), []
    with serving(recording):
        for i, (batch, length, n) in enumerate(prompts):
            input_ids = random_ids(model.config.vocab_size, batch, length, seed=seed + 1 + i)
            calls, caches = len(recording.calls), len(recording.caches)
            result = run_served(fn_name, input_ids, n)
            runs.append((input_ids, result, recording.calls[calls:], recording.caches[caches:]))
    return model, runs


def assert_each_step_timed_around_its_forward_pass(result, calls):
    """Step i must contain model call i (recorded here, with its sleep) and lie between the end of call i-1 and
    the start of call i+1 (or the start and end of the whole run)."""
    times = result["step_times"]
    assert len(calls) == len(times), f"one model call per step: {len(calls)} calls for {len(times)} steps"
    for i, (step, c) in enumerate(zip(times, calls)):
        assert step >= c["end"] - c["start"], f"step {i} ({step:.4f} s) is shorter than its forward pass"
        after = calls[i - 1]["end"] if i else result["start"]
        before = calls[i + 1]["start"] if i + 1 < len(calls) else result["end"]
        assert step <= before - after, f"step {i} ({step:.4f} s) is longer than the time between its neighbours"


def assert_runs_past_eos(fn_name):
    """The model's config names an EOS token that greedy decoding produces early: all n tokens still come."""
    model, input_ids, _, _ = run(fn_name, "llama3_mqa", batch=1, length=3, n=1, seed=7)
    eos = int(greedy(model, input_ids, 2)[0, -1])
    model, input_ids, result, _ = run(fn_name, "llama3_mqa", batch=1, length=3, n=5, seed=7, eos_token_id=eos)
    assert torch.equal(result["tokens"], greedy(model, input_ids, 5)), "n tokens, past the EOS"
