"""Test doubles for the hidden tests: trusted stand-ins that let one task be graded without depending on the
student's code for another task. Grading code only; students never receive it.

- t03: the model that prefill_decode and generate_naive drive lives in the TRUSTED process (RecordingModel),
  never in the sandbox. Student code gets a RemoteModel whose every call crosses the seam to it, so what the
  tests check (which calls were made, with what cache, when) is recorded where student code cannot write, and
  the weights never enter the sandbox. Its cache (TokenCache) only remembers token ids, and a call with a cache
  recomputes the whole sequence through the model's uncached path, so prefill_decode is graded without the
  student's KVCache. The model sleeps a known time per token fed, so the step timings can be checked against
  the trusted record of each call.
- t05: TrustedKVCache and trusted_cached_attention are plain copies of the reference code: cached_attention is
  graded with a cache known to be right, and KVCache with an attention known to be right.

`register(adapters)` adds the scenarios below to an adapters module: tests.adapters in the trusted process,
the grader's copy beside grading/worker.py inside the sandbox.
"""
import contextlib
import time
from dataclasses import asdict

import torch
import torch.nn.functional as F

_adapters = None  # the adapters module registered with; llmlab is imported only when a scenario runs


# ---- t03, trusted side: a model whose "cache" is the token ids, recording every call -------------------------

class TokenCache:
    """Remembers the token ids fed so far; `length` counts them, like a KV cache's. It has the KVCache's public
    interface (k, v, length, reset, memory_bytes, update), but holds no keys or values (k and v are zeros of the
    real buffers' shape and dtype) and only the model may feed it."""

    def __init__(self, batch_size: int, max_seq_len: int, config, dtype=torch.float32):
        self.ids = torch.zeros(batch_size, 0, dtype=torch.long)
        self.batch_size, self.max_seq_len = batch_size, max_seq_len
        self.shape, self.dtype = buffer_shape(config, batch_size, max_seq_len), dtype

    @property
    def length(self) -> int:
        return self.ids.shape[1]

    @property
    def k(self) -> torch.Tensor:
        return torch.zeros(self.shape, dtype=self.dtype)

    v = k

    def reset(self):
        self.ids = self.ids[:, :0]

    def memory_bytes(self) -> int:
        return 2 * self.shape.numel() * self.dtype.itemsize

    def update(self, *args):
        raise TypeError("this cache is filled by the model itself: pass it to model(ids, cache)")


def buffer_shape(config, batch_size: int, max_seq_len: int) -> torch.Size:
    """The shape of a KVCache's k and v buffers for a model of this config."""
    return torch.Size([config.num_hidden_layers, batch_size, config.num_key_value_heads, max_seq_len,
                       config.head_dim])


class RecordingModel:
    """`model(ids)` and `model(ids, cache, last_only=...)` with the semantics of llmlab.model.Llama, computed
    without a KV cache. Every call is recorded in `calls` (tokens fed, cache or not, the cache's length, and
    the perf_counter() times at which it started and ended); it sleeps `delay_per_token` s per token fed. It
    runs a copy of `model` on the device under test, if any (grading/device_under_test.py), as student code
    would find the model there."""

    def __init__(self, model, delay_per_token: float = 0.0):
        from grading.device_under_test import on_device  # trusted side only: the sandbox imports this file too
        self.model, self.config, self.delay_per_token = on_device(model), model.config, delay_per_token
        self.calls, self.caches = [], []

    @property
    def device(self):
        return self.model.device

    def new_cache(self, batch_size: int, max_seq_len: int) -> TokenCache:
        self.caches.append(TokenCache(batch_size, max_seq_len, self.config, self.model.lm_head.weight.dtype))
        return self.caches[-1]

    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def __call__(self, ids, cache=None, last_only=False):
        start = time.perf_counter()
        B, T = ids.shape
        call = {"tokens": T, "cached": cache is not None, "last_only": bool(last_only),
                "cache_length": None if cache is None else cache.length}
        self.calls.append(call)
        sequence = ids = ids.to(self.device)     # ids come from the sandbox on the CPU
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
        time.sleep(self.delay_per_token * T)
        call["start"], call["end"] = start, time.perf_counter()
        return logits


_served = None  # the RecordingModel that RemoteModels reach now (trusted process)


@contextlib.contextmanager
def serving(model: RecordingModel):
    """Within this block, a scenario's RemoteModel reaches `model`."""
    global _served
    _served = model
    try:
        yield model
    finally:
        _served = None


def serve(request: bytes) -> bytes:
    """Answer one request of a RemoteModel: b"R" + the encoded result, or b"E" + [error type, message]. The
    request comes from student code: only these methods, with checked plain arguments."""
    try:
        method, args = _adapters.decode(request)
        if _served is None:
            raise RuntimeError("no model is being served")
        reply = b"R" + _adapters.encode(_SERVED_METHODS[method](_served, *args))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        reply = b"E" + _adapters.encode([type(e).__name__, str(e)[:300]])
    return reply


def _cache(model, index):
    if type(index) is not int or not 0 <= index < len(model.caches):
        raise ValueError("the cache passed does not come from this model's new_cache()")
    return model.caches[index]


def _forward(model, ids, index, last_only):
    if not (isinstance(ids, torch.Tensor) and ids.dtype == torch.int64 and ids.dim() == 2 and ids.numel()):
        raise TypeError("the model takes token ids as a (B, T) int64 tensor")
    if ids.min() < 0 or ids.max() >= model.config.vocab_size:
        raise ValueError(f"token ids must lie in [0, {model.config.vocab_size})")
    with torch.inference_mode():
        return model(ids, None if index is None else _cache(model, index), last_only=bool(last_only))


def _new_cache(model, batch_size, max_seq_len):
    if not all(type(n) is int and 0 < n <= 1 << 16 for n in (batch_size, max_seq_len)):
        raise ValueError("new_cache(batch_size, max_seq_len) takes two positive ints")
    model.new_cache(batch_size, max_seq_len)
    return len(model.caches) - 1


_SERVED_METHODS = {
    "describe": lambda model: {"config": asdict(model.config), "device": str(model.device),
                               "num_parameters": model.num_parameters(),
                               "dtype": str(model.model.lm_head.weight.dtype).removeprefix("torch.")},
    "new_cache": _new_cache,
    "forward": _forward,
    "cache_length": lambda model, index: _cache(model, index).length,
    "cache_reset": lambda model, index: _cache(model, index).reset(),
    "cache_memory_bytes": lambda model, index: _cache(model, index).memory_bytes(),
}


# ---- t03, student side: what the student's code is given ----------------------------------------------------

_channel = serve  # in the trusted process itself; inside the sandbox, grading/worker.py connects it to us


def connect_host(channel):
    """Called by grading/worker.py in the sandbox: `channel(request) -> reply` reaches `serve` in the trusted
    process."""
    global _channel
    _channel = channel


def _ask(method, *args):
    reply = _channel(_adapters.encode([method, list(args)]))
    body = _adapters.decode(reply[1:])
    if reply[:1] == b"R":
        return body
    kind, message = body
    raise {"TypeError": TypeError, "ValueError": ValueError}.get(kind, RuntimeError)(message)


class RemoteCache:
    """The cache of a RemoteModel: it lives in the trusted process; this is its handle, with the KVCache's public
    interface (k and v: zeros of the real buffers' shape and dtype)."""

    def __init__(self, index: int, shape: torch.Size, dtype: torch.dtype):
        self.index, self.shape, self.dtype = index, shape, dtype

    @property
    def length(self) -> int:
        return _ask("cache_length", self.index)

    @property
    def k(self) -> torch.Tensor:
        return torch.zeros(self.shape, dtype=self.dtype)

    v = k

    def reset(self):
        _ask("cache_reset", self.index)

    def memory_bytes(self) -> int:
        return _ask("cache_memory_bytes", self.index)

    def update(self, *args):
        raise TypeError("this cache is filled by the model itself: pass it to model(ids, cache)")


class RemoteModel:
    """Called like llmlab.model.Llama (`model(ids)`, `model(ids, cache, last_only=...)`, `model.new_cache(B, S)`,
    `model.config`, `model.device`, `model.num_parameters()`); every call runs the RecordingModel of the trusted
    process. Its weights stay there: the layers are not here (llmlab/generation.py's docstring says what may
    be used)."""

    def __init__(self):
        from llmlab.model import LlamaConfig
        description = _ask("describe")
        self.config, self.device = LlamaConfig(**description["config"]), torch.device(description["device"])
        self._num_parameters, self._dtype = description["num_parameters"], getattr(torch, description["dtype"])

    def new_cache(self, batch_size: int, max_seq_len: int) -> RemoteCache:
        index = _ask("new_cache", int(batch_size), int(max_seq_len))
        return RemoteCache(index, buffer_shape(self.config, int(batch_size), int(max_seq_len)), self._dtype)

    def num_parameters(self) -> int:
        return self._num_parameters

    def __call__(self, ids, cache=None, last_only=False):
        if cache is not None and not isinstance(cache, RemoteCache):
            raise ValueError("the cache passed does not come from this model's new_cache()")
        logits = _ask("forward", ids, None if cache is None else cache.index, bool(last_only))
        return logits.to(self.device)            # as the model's own logits would be


def generation_on_served_model(fn_name, input_ids, max_new_tokens):
    """llmlab.generation.<fn_name> (generate_naive or prefill_decode) driving the served model:
    {"tokens", "step_times"}. What the model saw is recorded on the trusted side."""
    import llmlab.generation
    if fn_name not in ("generate_naive", "prefill_decode"):
        raise ValueError(f"not a generation function: {fn_name!r}")
    out = getattr(llmlab.generation, fn_name)(RemoteModel(), input_ids, max_new_tokens)
    return {"tokens": out.tokens, "step_times": [float(t) for t in out.step_times]}


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


SCENARIOS = [generation_on_served_model, cached_attention_trusted_cache,
             cached_logits_trusted_cache, cached_logits_trusted_attention]


def register(adapters):
    """Add the scenarios above to `adapters` (a tests/adapters.py module)."""
    global _adapters
    _adapters = adapters
    for fn in SCENARIOS:
        adapters.scenario(fn)
