"""Hidden tests of t05_kv_cache: the student's KVCache on its own, and inside the model with a trusted
cached_attention (grading/doubles.py), so that a wrong cached_attention does not fail this task."""
import pytest
import torch

from llmlab.checkpoint import load_model
from tests.adapters import call, model_spec
from tests.random_llama import CONFIGS, random_ids, random_llama

pytestmark = pytest.mark.task("t05_kv_cache")

PROMISES = {
    "buffers": "Buffers `k` and `v` have shape (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)",
    "empty": "`length` is the number of positions filled so far (0 when empty).",
    "dtype": "dtype, device: of the buffers",
    "update": "Write the K/V of T new tokens at positions pos..pos+T-1 of `layer`; return that layer's K/V so far.",
    "update_returns": "(k_all, v_all), each (B, nkv, pos+T, hd): every cached position of this layer up to the new "
                      "ones.",
    "layers": "layer: which layer's cache, 0 <= layer < n_layers.",
    "length_after": "Afterwards `length` is pos + T.",
    "overflow": "Raises ValueError when pos + T exceeds max_seq_len.",
    "reset": "Empty the cache (length 0) so that it can serve a new sequence.",
    "memory": "Bytes held by the buffers: 2 (K and V) * L * B * S_max * nkv * hd * bytes per element.",
    "in_model": "dtype, device: of the buffers: the model's (`model.new_cache` passes them), so that the cached "
                "K/V live where the model computes them.",
}

SIZES = dict(n_layers=3, batch_size=2, max_seq_len=9, n_kv_heads=3, head_dim=4)


def kv(T, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, T, 4, generator=g).to(dtype) for _ in range(2))


def same(actual, expected):
    assert isinstance(actual, torch.Tensor), f"expected a tensor, got {type(actual).__name__}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype}, expected {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    torch.testing.assert_close(actual, expected, atol=0, rtol=0)


@pytest.mark.promise("update", "update_returns", "length_after", weight=2)
def test_update_returns_prefix():
    k1, v1 = kv(5, 1)
    k2, v2 = kv(1, 2)
    (a, b), length, (c, d), length2 = call("kv_cache", SIZES, [("update", 1, 0, k1, v1), ("length",),
                                                               ("update", 1, 5, k2, v2), ("length",)])
    assert length == 5 and length2 == 6
    same(a, k1)
    same(b, v1)
    same(c, torch.cat([k1, k2], 2))
    same(d, torch.cat([v1, v2], 2))


@pytest.mark.promise("layers", "update_returns", "length_after", weight=1.5)
def test_layers_chunks_and_length():
    chunks = [kv(T, seed) for T, seed in [(4, 3), (2, 4), (1, 5)]]
    ops, pos = [], 0
    for k, v in chunks:
        for layer in range(3):  # as the model does: every layer stores the same new positions
            scale = layer + 1
            ops.append(("update", layer, pos, k * scale, v * scale))
        ops.append(("length",))
        pos += k.shape[2]
    results = call("kv_cache", SIZES, ops)
    assert [results[i] for i in (3, 7, 11)] == [4, 6, 7], "length is the number of positions cached"
    for layer in range(3):
        k_all, v_all = results[8 + layer]
        scale = layer + 1
        same(k_all, torch.cat([k for k, _ in chunks], 2) * scale)
        same(v_all, torch.cat([v for _, v in chunks], 2) * scale)


@pytest.mark.promise("reset", weight=1)
def test_reset_then_reuse():
    k1, v1 = kv(7, 6)
    k2, v2 = kv(3, 7)
    results = call("kv_cache", SIZES, [("update", 0, 0, k1, v1), ("reset",), ("length",), ("update", 0, 0, k2, v2),
                                       ("length",)])
    assert results[2] == 0 and results[4] == 3
    same(results[3][0], k2)
    same(results[3][1], v2)


@pytest.mark.promise("memory", "dtype", weight=1)
@pytest.mark.parametrize("dtype,size", [("float16", 2), ("float64", 8)])
def test_memory_bytes_and_dtype(dtype, size):
    sizes = dict(n_layers=4, batch_size=3, max_seq_len=7, n_kv_heads=5, head_dim=6, dtype=dtype)
    torch_dtype = getattr(torch, dtype)
    k = torch.randn(3, 5, 2, 6).to(torch_dtype)
    memory, (a, _) = call("kv_cache", sizes, [("memory_bytes",), ("update", 2, 0, k, k)])
    assert memory == 2 * 4 * 3 * 7 * 5 * 6 * size
    same(a, k)


@pytest.mark.promise("memory", weight=0.5)
def test_memory_bytes_float32():
    [memory] = call("kv_cache", dict(n_layers=2, batch_size=1, max_seq_len=11, n_kv_heads=2, head_dim=16),
                    [("memory_bytes",)])
    assert memory == 2 * 2 * 1 * 11 * 2 * 16 * 4


def error_name(*args):
    try:
        call("kv_cache", *args)
    except Exception as e:  # noqa: BLE001 - in the sandbox it comes back as "ValueError: ..."
        return getattr(e, "kind", None) or type(e).__name__  # the sandbox's SubmissionError has `kind`
    return None


@pytest.mark.promise("overflow", weight=0.5)
def test_overflow_raises_value_error():
    k, v = kv(4, 8)
    assert error_name(SIZES, [("update", 0, 5, k, v)]) is None  # positions 5..8 fit in 9
    assert error_name(SIZES, [("update", 0, 6, k, v)]) == "ValueError"
    assert error_name(SIZES, [("update", 0, 0, *kv(6, 9)), ("update", 0, 6, k, v)]) == "ValueError"


@pytest.mark.promise("in_model", "reset", "update", weight=2)
@pytest.mark.parametrize("name", ["shipped", *CONFIGS])
def test_in_the_model_chunked_and_after_reset(name):
    """The model's new_cache(2, 12) (the shipped checkpoint's config and the test models': tied and untied
    embeddings, GQA, MQA, plain multi-head attention, head_dim other than hidden_size / heads), fed two
    sequences in chunks [7, 3, 1, 1], reset in between: the same logits as the model without a cache."""
    model = load_model(device="cpu") if name == "shipped" else random_llama(name, seed=11)
    first = random_ids(model.config.vocab_size, 2, 12, seed=12)
    second = random_ids(model.config.vocab_size, 2, 12, seed=13)
    result = call("cached_logits_trusted_attention", model_spec(model), [first, second], [7, 3, 1, 1])
    assert result["lengths"] == [12, 12]
    with torch.no_grad():
        for logits, ids in zip(result["logits"], [first, second]):
            assert isinstance(logits, torch.Tensor) and logits.shape == (2, 12, model.config.vocab_size)
            torch.testing.assert_close(logits, model(ids), atol=1e-4, rtol=1e-4)


@pytest.mark.promise("buffers", "empty", "dtype", weight=1)
def test_new_cache_is_empty_with_buffers_of_the_given_shape_and_dtype():
    """KVCache(n_layers=3, batch_size=2, max_seq_len=9, n_kv_heads=3, head_dim=4, dtype=float16): length 0,
    buffers k and v of shape (3, 2, 3, 9, 4) and dtype float16."""
    length, (k, v) = call("kv_cache", dict(SIZES, dtype="float16"), [("length",), ("buffers",)])
    assert length == 0, "an empty cache has length 0"
    for buffer in (k, v):
        assert isinstance(buffer, torch.Tensor) and buffer.dtype == torch.float16, "the buffers have the given dtype"
        assert buffer.shape == (3, 2, 3, 9, 4), "buffers (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)"


@pytest.mark.promise("reset", "dtype", "memory", "buffers", weight=1.5)
def test_after_reset_the_cache_keeps_its_buffers_dtype_and_memory():
    """Several sequences through one float64 cache, reset in between: after each reset length 0, the same
    memory_bytes(), buffers of the same shape and dtype, and the next sequence's K/V come back alone."""
    sizes = dict(SIZES, dtype="float64")
    chunks = [kv(T, 20 + T, torch.float64) for T in (6, 2, 4)]
    ops = [("memory_bytes",)]
    for k, v in chunks:
        ops += [("update", 2, 0, k, v), ("reset",), ("length",), ("memory_bytes",), ("buffers",)]
    results = call("kv_cache", sizes, ops)
    memory = results[0]
    assert memory == 2 * 3 * 2 * 9 * 3 * 4 * 8
    for i, (k, v) in enumerate(chunks):
        (k_all, v_all), _, length, memory_after, (k_buffer, v_buffer) = results[1 + 5 * i: 6 + 5 * i]
        same(k_all, k)
        same(v_all, v)
        assert length == 0 and memory_after == memory, "reset empties the cache and keeps its memory"
        assert k_buffer.dtype == v_buffer.dtype == torch.float64 and k_buffer.shape == (3, 2, 3, 9, 4), \
            "reset keeps the buffers' shape and dtype"


@pytest.mark.promise("length_after", "update_returns", weight=1)
def test_writing_at_an_earlier_position_sets_the_length_to_pos_plus_t():
    """update(0, 0, 5 tokens), then update(0, 2, 1 token): length is 3 and the K/V returned are the first 2
    cached positions followed by the new one."""
    k1, v1 = kv(5, 30)
    k2, v2 = kv(1, 31)
    _, (k_all, v_all), length = call("kv_cache", SIZES, [("update", 0, 0, k1, v1), ("update", 0, 2, k2, v2),
                                                         ("length",)])
    assert length == 3, "after update(layer, pos, k, v), length is pos + T"
    same(k_all, torch.cat([k1[:, :, :2], k2], 2))
    same(v_all, torch.cat([v1[:, :, :2], v2], 2))
