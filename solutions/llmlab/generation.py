"""Notebook 03: prefill and decode.

An LLM generates autoregressively: one forward pass gives the logits of the next token, the chosen token is
appended, and the longer sequence goes through the model again. Done naively, every step re-reads the whole
sequence, so step i costs more than step i-1. With a KV cache the work splits into two phases:
- prefill: one forward pass over the whole prompt fills the cache and gives the first new token;
- decode: each later step feeds only the newest token, whose query attends to the cached keys and values.

Both functions below decode greedily (argmax, lowest index on ties) and time every step, so that the notebook
can compare TTFT (time to first token) with TPOT (time per output token).

Devices: the prompt is given on the model's device (a GPU, or the CPU), and the tokens returned are on it too.

Use the model only through `model(...)`, `model.new_cache(...)`, `model.config`, `model.device` and
`model.num_parameters()`, and its cache only through the KVCache's interface (`length`, `reset()`,
`memory_bytes()`, `k`, `v`): the graders' stand-in for the model (it records your calls) has nothing else.
"""
import time
from dataclasses import dataclass

import torch


@dataclass
class Generation:
    """What a generation run returns.

    tokens: (B, T + n) int64, the prompt followed by the n generated tokens.
    step_times: n durations in seconds; step i produced generated token i (step 0 is the prefill).
    """
    tokens: torch.Tensor
    step_times: list[float]

    @property
    def ttft(self) -> float:
        """Time to first token: the first step (the prefill when a cache is used)."""
        return self.step_times[0]

    @property
    def tpot(self) -> float:
        """Time per output token: the mean of the steps after the first (nan when there is only one)."""
        rest = self.step_times[1:]
        return sum(rest) / len(rest) if rest else float("nan")


def clock(device) -> float:
    """time.perf_counter(), read after the work queued on `device` has finished.

    GPU kernels run asynchronously: without waiting, a step would be timed before its work is done."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    return time.perf_counter()


def _check_new_tokens(max_new_tokens):
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")


def generate_naive(model, input_ids: torch.Tensor, max_new_tokens: int) -> Generation:
    """Greedy generation without a cache: every step runs the WHOLE sequence so far through the model.

    Args:
        model: called as `model(ids)` with ids (B, S) int64, returns logits (B, S, V); e.g. llmlab.model.Llama.
        input_ids: (B, T) int64, the prompt.
        max_new_tokens: n >= 1, how many tokens to generate (no early stop at EOS).
    Returns:
        Generation(tokens (B, T + n), step_times of n floats). Step i runs `model(ids)` on the T + i tokens
        so far, takes the argmax of the last position's logits (B, V) as every row's next token and appends
        it. Each step is timed from just before the forward pass to just after the token is appended, with
        `clock(device)` (time.perf_counter). Runs under torch.inference_mode().
    Raises ValueError when max_new_tokens is not a positive int.
    """
    _check_new_tokens(max_new_tokens)
    ### BEGIN SOLUTION
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(ids.device)
            logits = model(ids)                                       # (B, T+i, V): the whole sequence again
            next_token = logits[:, -1].argmax(dim=-1, keepdim=True)   # (B, 1)
            ids = torch.cat([ids, next_token], dim=1)                 # (B, T+i+1)
            step_times.append(clock(ids.device) - start)
    return Generation(ids, step_times)
    ### END SOLUTION


def prefill_decode(model, input_ids: torch.Tensor, max_new_tokens: int) -> Generation:
    """Greedy generation in two phases with a KV cache: one prefill over the prompt, then one-token decode steps.

    Args:
        model: has `model.new_cache(batch_size, max_seq_len)` and is called as `model(ids, cache,
            last_only=...)`: the tokens ids (B, t) continue the cache.length tokens already in the cache, their
            K/V are added to it, and the logits (B, t, V) come back, or (B, 1, V) for the last token only with
            last_only=True. E.g. llmlab.model.Llama.
        input_ids: (B, T) int64, the prompt.
        max_new_tokens: n >= 1, how many tokens to generate (no early stop at EOS).
    Returns:
        Generation(tokens (B, T + n), step_times of n floats), with the same tokens as generate_naive.
        - cache = model.new_cache(B, T + n).
        - Step 0 (prefill): `model(input_ids, cache, last_only=True)`; the argmax of its logits is the first
          new token (last_only only saves computing logits that are not used; without it take the last position).
        - Steps 1..n-1 (decode): feed only the previous step's token, `model(token (B, 1), cache)`, and take
          the argmax. The last new token is never fed back: n tokens take n forward passes.
        Each step is timed as in generate_naive. Runs under torch.inference_mode().
    Raises ValueError when max_new_tokens is not a positive int.
    """
    _check_new_tokens(max_new_tokens)
    ### BEGIN SOLUTION
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens)
    new_tokens, step_times = [], []
    with torch.inference_mode():
        step_input = input_ids  # the prefill reads the whole prompt; each decode step reads one token
        for _ in range(max_new_tokens):
            start = clock(input_ids.device)
            logits = model(step_input, cache, last_only=True)         # (B, 1, V)
            step_input = logits[:, -1].argmax(dim=-1, keepdim=True)   # (B, 1): the next token
            new_tokens.append(step_input)
            step_times.append(clock(input_ids.device) - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)  # (B, T+n)
    ### END SOLUTION
