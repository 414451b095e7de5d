"""Test doubles for the hidden tests: trusted stand-ins that let one task be graded without depending on the
student's code for another task. Grading code only; students never receive it.

- RecordingModel wraps a llmlab Llama for the t03 tasks. Its cache (TokenCache) only remembers token ids, and
  a call with a cache recomputes the whole sequence through the model's uncached path, so prefill_decode is
  graded without the student's KVCache. Every call is recorded (how many tokens, with a cache or not), and
  it can sleep a known time per token, so that tests can check the phases and the step timings.
- TrustedKVCache and trusted_cached_attention are plain copies of the reference t05 code: cached_attention
  is graded with a cache known to be right, and KVCache with an attention known to be right.

`register(adapters)` adds the scenarios below to an adapters module: tests.adapters in the trusted process,
the grader's copy beside grading/worker.py inside the sandbox.
"""
import contextlib
import time

import torch
import torch.nn.functional as F

_adapters = None  # the adapters module registered with; llmlab is imported only when a scenario runs


# ---- t03: a model whose "cache" is the token ids ---------------------------------------------------------

class TokenCache:
    """Remembers the token ids fed so far; `length` counts them, like a KV cache's."""

    def __init__(self, batch_size: int, max_seq_len: int):
        self.ids = torch.zeros(batch_size, 0, dtype=torch.long)
        self.batch_size, self.max_seq_len = batch_size, max_seq_len

    @property
    def length(self) -> int:
        return self.ids.shape[1]


class RecordingModel:
    """`model(ids)` and `model(ids, cache, last_only=...)` with the semantics of llmlab.model.Llama, computed
    without a KV cache, recording every call in `calls`; sleeps `delay_per_token` seconds per token fed."""

    def __init__(self, model, delay_per_token: float = 0.0):
        self.model, self.config, self.delay_per_token = model, model.config, delay_per_token
        self.calls, self.caches = [], []

    @property
    def device(self):
        return self.model.device

    def new_cache(self, batch_size: int, max_seq_len: int) -> TokenCache:
        self.caches.append([int(batch_size), int(max_seq_len)])
        return TokenCache(batch_size, max_seq_len)

    def __call__(self, ids, cache=None, last_only=False):
        B, T = ids.shape
        call = {"tokens": T, "cached": cache is not None, "last_only": bool(last_only),
                "cache_length": None if cache is None else cache.length, "slept": self.delay_per_token * T}
        self.calls.append(call)
        sequence = ids
        if cache is not None:
            if not isinstance(cache, TokenCache) or cache.batch_size != B:
                raise ValueError("the cache passed does not come from this model's new_cache() for this batch")
            sequence = torch.cat([cache.ids.to(ids.device), ids], dim=1)  # (B, cache.length + T)
            if sequence.shape[1] > cache.max_seq_len:
                raise ValueError(f"KV cache overflow: positions up to {sequence.shape[1]} do not fit "
                                 f"max_seq_len={cache.max_seq_len}")
            cache.ids = sequence
        logits = self.model(sequence)[:, -T:]  # (B, T, V): the new tokens' logits
        if last_only:
            logits = logits[:, -1:]
        time.sleep(call["slept"])
        return logits


def _run_recorded(fn_name, spec, input_ids, max_new_tokens, delay_per_token):
    import llmlab.generation
    model = RecordingModel(_adapters.build_model(spec), delay_per_token)
    start = time.perf_counter()
    out = getattr(llmlab.generation, fn_name)(model, input_ids, max_new_tokens)
    wall = time.perf_counter() - start
    return {"tokens": out.tokens, "step_times": [float(t) for t in out.step_times], "calls": model.calls,
            "caches": model.caches, "wall": wall}


def naive_recorded(spec, input_ids, max_new_tokens, delay_per_token=0.0):
    """generate_naive on a RecordingModel: {"tokens", "step_times", "calls", "caches", "wall"}."""
    return _run_recorded("generate_naive", spec, input_ids, max_new_tokens, delay_per_token)


def prefill_decode_recorded(spec, input_ids, max_new_tokens, delay_per_token=0.0):
    """prefill_decode on a RecordingModel: {"tokens", "step_times", "calls", "caches", "wall"}."""
    return _run_recorded("prefill_decode", spec, input_ids, max_new_tokens, delay_per_token)


# ---- t05: trusted copies of the reference cache and attention ----------------------------------------------

class TrustedKVCache:
    """The reference KVCache: buffers (n_layers, B, nkv, S_max, hd), update/length/reset/memory_bytes."""

    def __init__(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32,
                 device=None):
        shape = (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0

    def update(self, layer, pos, k, v):
        T, max_len = k.shape[2], self.k.shape[3]
        if pos + T > max_len:
            raise ValueError(f"KV cache overflow: positions up to {pos + T} do not fit max_seq_len={max_len}")
        self.k[layer, :, :, pos:pos + T] = k
        self.v[layer, :, :, pos:pos + T] = v
        self.length = pos + T
        return self.k[layer, :, :, :pos + T], self.v[layer, :, :, :pos + T]

    def reset(self):
        self.length = 0
        self.k.zero_()
        self.v.zero_()

    def memory_bytes(self):
        return 2 * self.k.numel() * self.k.element_size()


def trusted_cached_attention(q, k, v, cache, layer, pos, rope):
    """The reference cached_attention."""
    from llmlab.model import apply_rope
    T = q.shape[2]
    cos, sin = rope(torch.arange(pos, pos + T, device=q.device), q.dtype)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = cache.update(layer, pos, k, v)
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    mask = torch.ones(T, pos + T, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def cached_attention_trusted_cache(q, k, v, past_k, past_v, layer, rope_config, n_layers=2, max_seq_len=None):
    """The student's cached_attention on one step, with a TrustedKVCache already holding past_k/past_v
    (B, nkv, P, hd, post-RoPE) in `layer`: {"out": (B, nh, T, hd), "k"/"v": the layer's cache afterwards,
    "length": the cache's length afterwards}."""
    from llmlab.kv_cache import cached_attention
    B, nkv, P, hd = past_k.shape
    T = k.shape[2]
    cache = TrustedKVCache(n_layers, B, max_seq_len or P + T, nkv, hd, dtype=q.dtype, device=q.device)
    if P:
        cache.update(layer, 0, past_k, past_v)
    out = cached_attention(q, k, v, cache, layer, P, _adapters.build_rope(rope_config).to(q.device))
    n = cache.length
    return {"out": out, "k": cache.k[layer, :, :, :n], "v": cache.v[layer, :, :, :n], "length": n}


def cached_logits_trusted_cache(spec, input_ids, chunks):
    """The model's logits (B, T, V) with input_ids fed in chunks through the student's cached_attention and a
    TrustedKVCache."""
    model = _adapters.build_model(spec)
    c = model.config
    cache = TrustedKVCache(c.num_hidden_layers, input_ids.shape[0], input_ids.shape[1], c.num_key_value_heads,
                           c.head_dim, device=model.device)
    return _feed(model, cache, input_ids, chunks)


@contextlib.contextmanager
def _trusted_attention():
    """Make the model call trusted_cached_attention instead of llmlab.kv_cache.cached_attention."""
    import llmlab.kv_cache
    student = llmlab.kv_cache.cached_attention
    llmlab.kv_cache.cached_attention = trusted_cached_attention
    try:
        yield
    finally:
        llmlab.kv_cache.cached_attention = student


def cached_logits_trusted_attention(spec, sequences, chunks, max_seq_len=None):
    """For each input_ids in `sequences` (all (B, T)), the logits (B, T, V) from feeding it in chunks through
    the student's KVCache (from model.new_cache, reset between sequences) and the trusted attention; also
    the cache length after each sequence."""
    model = _adapters.build_model(spec)
    B, T = sequences[0].shape
    with _trusted_attention():
        cache = model.new_cache(B, max_seq_len or T)
        logits, lengths = [], []
        for i, input_ids in enumerate(sequences):
            if i:
                cache.reset()
            logits.append(_feed(model, cache, input_ids, chunks))
            lengths.append(int(cache.length))
    return {"logits": logits, "lengths": lengths}


def _feed(model, cache, input_ids, chunks):
    out, start = [], 0
    with torch.inference_mode():
        for size in chunks:
            out.append(model(input_ids[:, start:start + size], cache))  # (B, size, V)
            start += size
    return torch.cat(out, dim=1)


SCENARIOS = [naive_recorded, prefill_decode_recorded, cached_attention_trusted_cache,
             cached_logits_trusted_cache, cached_logits_trusted_attention]


def register(adapters):
    """Add the scenarios above to `adapters` (a tests/adapters.py module)."""
    global _adapters
    _adapters = adapters
    for fn in SCENARIOS:
        adapters.scenario(fn)
