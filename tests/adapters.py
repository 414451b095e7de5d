"""The one seam between tests and student code.

Tests never import the exercise functions themselves; they call `call(scenario, ...)` (or the run_* helpers
below). A scenario is a short function that runs student code and returns plain data: tensors, numbers,
strings, None, and lists/tuples/dicts of these. Results always travel through `encode`/`decode`, so a test
sees fresh torch.Tensors and Python numbers, whatever object the student's code returned.

- In a student's own run, scenarios run in this process against the installed `llmlab`.
- Under the autograder, `set_remote` routes every call into the submission's sandbox; the scenario runs
  there and only the encoded result comes back. Expected values never leave the test process.
"""
import json
import struct

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

SCENARIOS = {}
_remote = None


def scenario(fn):
    """Register `fn` as a scenario that tests can run by name."""
    SCENARIOS[fn.__name__] = fn
    return fn


def set_remote(runner):
    """Route calls to `runner(name, args, kwargs) -> result` (the autograder's sandbox), or back home with None."""
    global _remote
    _remote = runner


def call(name: str, *args, **kwargs):
    """Run scenario `name` where the student's code lives and return its result as plain data."""
    if _remote is not None:
        return _remote(name, args, kwargs)
    return decode(encode(SCENARIOS[name](*args, **kwargs)))


# ---- plain data codec: [8-byte length][JSON structure][safetensors blob]; no pickle anywhere -------------

class NotPlainData(TypeError):
    pass


def _to_json(obj, tensors):
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = torch.Tensor.detach(obj).cpu().clone().contiguous()
        return {"__tensor__": key}
    if type(obj) in (list, tuple):
        items = [_to_json(x, tensors) for x in obj]
        return {"__tuple__": items} if type(obj) is tuple else items
    if type(obj) is dict and all(type(k) is str for k in obj):
        return {"__dict__": {k: _to_json(v, tensors) for k, v in obj.items()}}
    raise NotPlainData(f"result of type {type(obj).__name__} is not plain data "
                       f"(expected tensors, numbers, strings, None, lists, tuples or dicts)")


def encode(obj) -> bytes:
    tensors = {}
    structure = json.dumps(_to_json(obj, tensors)).encode()
    return struct.pack("<Q", len(structure)) + structure + save_tensors(tensors)


def decode(data: bytes):
    (n,) = struct.unpack("<Q", data[:8])
    structure = json.loads(data[8:8 + n])
    tensors = load_tensors(data[8 + n:])

    def build(x):
        if isinstance(x, list):
            return [build(v) for v in x]
        if isinstance(x, dict):
            if "__tensor__" in x:
                return tensors[x["__tensor__"]]
            if "__tuple__" in x:
                return tuple(build(v) for v in x["__tuple__"])
            return {k: build(v) for k, v in x["__dict__"].items()}
        return x

    return build(structure)


# ---- models travel as plain data too: "shipped", or {"config": {...}, "weights": {name: tensor}} ---------

def model_spec(model) -> dict | str:
    """Plain-data description of a llmlab Llama (or "shipped" for the shipped tiny model)."""
    from dataclasses import asdict
    return {"config": asdict(model.config), "weights": {k: v for k, v in model.state_dict().items()}}


def build_model(spec):
    from llmlab.checkpoint import load_model
    from llmlab.model import Llama, LlamaConfig
    if spec == "shipped":
        return load_model(device="cpu")
    model = Llama(LlamaConfig(**spec["config"]))
    model.load_state_dict(spec["weights"])
    return model.requires_grad_(False).eval()


# ---- scenarios: notebook 01, decoding strategies ----------------------------------------------------------

@scenario
def greedy(logits):
    from llmlab.decoding import greedy
    return greedy(logits)


@scenario
def sample(logits, seed):
    from llmlab.decoding import sample
    return sample(logits, torch.Generator().manual_seed(seed))


@scenario
def sample_global(logits, seed):
    """sample(logits) with generator=None, after torch.manual_seed(seed)."""
    from llmlab.decoding import sample
    torch.manual_seed(seed)
    return sample(logits)


@scenario
def top_k_filter(logits, k, min_tokens_to_keep=1):
    from llmlab.decoding import top_k_filter
    return top_k_filter(logits, k, min_tokens_to_keep=min_tokens_to_keep)


@scenario
def top_p_filter(logits, p, min_tokens_to_keep=1):
    from llmlab.decoding import top_p_filter
    return top_p_filter(logits, p, min_tokens_to_keep=min_tokens_to_keep)


@scenario
def beam_search(spec, input_ids, **kwargs):
    """Returns (list of token tensors, scores tensor), best first."""
    from llmlab.decoding import beam_search
    return beam_search(build_model(spec), input_ids, **kwargs)


@scenario
def beam_search_error(spec, input_ids, **kwargs):
    """[exception type name, message] of what beam_search raises on these arguments, or None."""
    from llmlab.decoding import beam_search
    try:
        beam_search(build_model(spec), input_ids, **kwargs)
    except Exception as e:  # noqa: BLE001 - the test decides which types are right
        return [type(e).__name__, str(e)]
    return None


@scenario
def generate(spec, input_ids, max_new_tokens, seed=None, **kwargs):
    """llmlab.full_generate.generate(...) tokens, (B * R, T + n); with a seed, sampling draws from
    torch.Generator().manual_seed(seed)."""
    from llmlab.full_generate import generate
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return generate(build_model(spec), input_ids, max_new_tokens, generator=generator, **kwargs)


@scenario
def generate_text(spec, vocab, prompt, max_new_tokens, **kwargs):
    """llmlab.full_generate.generate_text(...) with a whitespace word-level tokenizer over `vocab` ({word: id})."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    from llmlab.full_generate import generate_text
    tokenizer = Tokenizer(WordLevel(vocab, unk_token=next(iter(vocab))))
    tokenizer.pre_tokenizer = Whitespace()
    return generate_text(build_model(spec), tokenizer, prompt, max_new_tokens, **kwargs)


@scenario
def raises(fn_path, *args, **kwargs):
    """The exception type name that llmlab's `fn_path` ("module.function") raises on these arguments, or None.

    Tests use it to check argument validation: e.g. raises("decoding.top_k_filter", logits, 0) == "ValueError"."""
    import importlib
    module, name = fn_path.rsplit(".", 1)
    fn = getattr(importlib.import_module(f"llmlab.{module}"), name)
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the test decides which types are right
        return [type(e).__name__, str(e)]
    return None


@scenario
def tensor_arguments_after(fn_path, *args, **kwargs):
    """The tensor arguments of llmlab's `fn_path` as they are after the call (to compare with the originals)."""
    import importlib
    module, name = fn_path.rsplit(".", 1)
    getattr(importlib.import_module(f"llmlab.{module}"), name)(*args, **kwargs)
    return [a for a in args if isinstance(a, torch.Tensor)]


def does_not_mutate(fn_path, *args, **kwargs) -> bool:
    """True when llmlab's `fn_path` leaves its tensor arguments unchanged. Compared here, on what comes back,
    not where the student's code runs."""
    before = [a.clone() for a in args if isinstance(a, torch.Tensor)]
    after = call("tensor_arguments_after", fn_path, *args, **kwargs)
    return len(after) == len(before) and all(torch.equal(b, a) for b, a in zip(before, after))


# ---- notebook 02, temperature and penalties ---------------------------------------------------------------

def _processors(name):
    import llmlab.processors
    return getattr(llmlab.processors, name)


@scenario
def apply_temperature(logits, temperature):
    return _processors("apply_temperature")(logits, temperature)


@scenario
def repetition_penalty(logits, input_ids, penalty):
    return _processors("repetition_penalty")(logits, input_ids, penalty)


@scenario
def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    return _processors("presence_frequency_penalty")(logits, generated_ids, presence_penalty, frequency_penalty)


@scenario
def no_repeat_ngram(logits, input_ids, n):
    return _processors("no_repeat_ngram")(logits, input_ids, n)


@scenario
def length_penalties(lengths, alpha):
    """[(gnmt, hf) for each length]"""
    gnmt, hf = _processors("gnmt_length_penalty"), _processors("hf_length_penalty")
    return [(float(gnmt(n, alpha)), float(hf(n, alpha))) for n in lengths]


@scenario
def length_penalties_of_tensor(lengths, alpha):
    """[gnmt, hf] of a tensor of lengths: what comes back, tensors or not."""
    return [_processors("gnmt_length_penalty")(lengths, alpha), _processors("hf_length_penalty")(lengths, alpha)]


@scenario
def process_logits(logits, input_ids, prompt_length, **kwargs):
    return _processors("process_logits")(logits, input_ids, prompt_length, **kwargs)


# ---- notebook 03, prefill and decode ----------------------------------------------------------------------

@scenario
def generate_naive(spec, input_ids, max_new_tokens):
    """(tokens, step times)"""
    from llmlab.generation import generate_naive
    out = generate_naive(build_model(spec), input_ids, max_new_tokens)
    return out.tokens, [float(t) for t in out.step_times]


@scenario
def prefill_decode(spec, input_ids, max_new_tokens):
    from llmlab.generation import prefill_decode
    out = prefill_decode(build_model(spec), input_ids, max_new_tokens)
    return out.tokens, [float(t) for t in out.step_times]


class _CallLog:
    """A model that logs, for each call, how many tokens it was fed and whether a cache came with them."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __getattr__(self, name):  # new_cache, config, device, ...
        return getattr(self.model, name)

    def __call__(self, ids, cache=None, **kwargs):
        self.calls.append([ids.shape[1], cache is not None])
        return self.model(ids, cache, **kwargs)


@scenario
def generation_calls(fn_name, spec, input_ids, max_new_tokens):
    """llmlab.generation.<fn_name> on a model that logs its calls:
    (step times, [[tokens fed, with a cache?] for each model call], wall-clock seconds of the whole run)."""
    import time

    import llmlab.generation
    model = _CallLog(build_model(spec))
    start = time.perf_counter()
    out = getattr(llmlab.generation, fn_name)(model, input_ids, max_new_tokens)
    wall = time.perf_counter() - start
    return [float(t) for t in out.step_times], model.calls, wall


# ---- notebook 04, FLOPs -----------------------------------------------------------------------------------

@scenario
def flops(name, *args, **kwargs):
    """llmlab.flops.<name>(*args, **kwargs) as a Python number."""
    import llmlab.flops
    value = getattr(llmlab.flops, name)(*args, **kwargs)
    return value if type(value) in (int, float) else float(value)


@scenario
def llama_forward_flops(config, b, s, transformers_config=False):
    """llmlab.flops.llama_forward_flops(LlamaConfig(**config), b, s); with transformers_config, transformers'
    LlamaConfig(**config) instead."""
    from llmlab.flops import llama_forward_flops
    if transformers_config:
        from transformers import LlamaConfig
    else:
        from llmlab.model import LlamaConfig
    value = llama_forward_flops(LlamaConfig(**config), b, s)
    return value if type(value) in (int, float) else float(value)


# ---- notebook 05, KV cache --------------------------------------------------------------------------------

@scenario
def kv_cache(sizes, ops):
    """Build KVCache(**sizes) and run ops on it; returns one result per op.

    ops: ("update", layer, pos, k, v) -> [k_all, v_all]; ("length",) -> int; ("reset",) -> None;
    ("memory_bytes",) -> int; ("buffers",) -> [k, v] (the full preallocated buffers). Tensors are copied as they
    are right after their op (a later reset must not change what an earlier update returned).
    sizes["dtype"], if given, is a name such as "float16"."""
    from llmlab.kv_cache import KVCache
    if "dtype" in sizes:
        sizes = dict(sizes, dtype=getattr(torch, sizes["dtype"]))
    cache = KVCache(**sizes)
    results = []
    for op, *args in ops:
        if op == "update":
            results.append([t.clone() for t in cache.update(*args)])
        elif op == "length":
            results.append(cache.length)
        elif op == "reset":
            results.append(cache.reset())
        elif op == "memory_bytes":
            results.append(cache.memory_bytes())
        elif op == "buffers":
            results.append([cache.k.clone(), cache.v.clone()])
    return results


@scenario
def cached_logits(spec, input_ids, chunks):
    """Feed input_ids (B, T) to the model through its KV cache in chunks of the given sizes; return the
    logits of every chunk concatenated, (B, T, V)."""
    model = build_model(spec)
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1])
    out, start = [], 0
    with torch.no_grad():
        for size in chunks:
            out.append(model(input_ids[:, start:start + size], cache))
            start += size
    return torch.cat(out, dim=1)


@scenario
def cached_greedy(spec, input_ids, max_new_tokens):
    """Greedy tokens (B, T + n) from a plain prefill + decode loop over the model's KV cache (KVCache and
    cached_attention are exercised; the loop itself is not the student's)."""
    model = build_model(spec)
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    tokens, step_input = [input_ids], input_ids
    with torch.no_grad():
        for _ in range(max_new_tokens):
            step_input = model(step_input, cache)[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
            tokens.append(step_input)
    return torch.cat(tokens, dim=1)


def build_rope(rope_config: dict):
    """llmlab.model.RotaryEmbedding from plain data: {"head_dim", "rope_theta", optional "rope_scaling"}."""
    from llmlab.model import LlamaConfig, RotaryEmbedding
    hd = rope_config["head_dim"]
    return RotaryEmbedding(LlamaConfig(hidden_size=hd, num_attention_heads=1, head_dim=hd,
                                       rope_theta=rope_config.get("rope_theta", 10000.0),
                                       rope_scaling=rope_config.get("rope_scaling")))


@scenario
def cached_attention(q, k, v, past_k, past_v, layer, rope_config, n_layers=2):
    """One cached_attention call on a KVCache(n_layers, B, P+T, nkv, hd) whose `layer` already holds past_k,
    past_v (B, nkv, P, hd) at positions 0..P-1 (see build_rope for rope_config).
    Returns (out (B, nh, T, hd), cache length afterwards)."""
    from llmlab.kv_cache import KVCache, cached_attention
    B, nkv, P, hd = past_k.shape
    cache = KVCache(n_layers, B, P + k.shape[2], nkv, hd, dtype=q.dtype, device=q.device)
    if P:
        cache.update(layer, 0, past_k, past_v)
    out = cached_attention(q, k, v, cache, layer, P, build_rope(rope_config).to(q.device))
    return out, cache.length
