"""Hidden tests of t05_kv_cache: the student's KVCache on its own, and inside the model with a trusted
cached_attention (grading/doubles.py), so that a wrong cached_attention does not fail this task."""
import pytest
import torch

from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama

pytestmark = pytest.mark.task("t05_kv_cache")

SIZES = dict(n_layers=3, batch_size=2, max_seq_len=9, n_kv_heads=3, head_dim=4)


def kv(T, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, T, 4, generator=g).to(dtype) for _ in range(2))


def same(actual, expected):
    assert isinstance(actual, torch.Tensor), f"expected a tensor, got {type(actual).__name__}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype}, expected {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    torch.testing.assert_close(actual, expected, atol=0, rtol=0)


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


def test_reset_then_reuse():
    k1, v1 = kv(7, 6)
    k2, v2 = kv(3, 7)
    results = call("kv_cache", SIZES, [("update", 0, 0, k1, v1), ("reset",), ("length",), ("update", 0, 0, k2, v2),
                                       ("length",)])
    assert results[2] == 0 and results[4] == 3
    same(results[3][0], k2)
    same(results[3][1], v2)


@pytest.mark.parametrize("dtype,size", [("float16", 2), ("float64", 8)])
def test_memory_bytes_and_dtype(dtype, size):
    sizes = dict(n_layers=4, batch_size=3, max_seq_len=7, n_kv_heads=5, head_dim=6, dtype=dtype)
    torch_dtype = getattr(torch, dtype)
    k = torch.randn(3, 5, 2, 6).to(torch_dtype)
    memory, (a, _) = call("kv_cache", sizes, [("memory_bytes",), ("update", 2, 0, k, k)])
    assert memory == 2 * 4 * 3 * 7 * 5 * 6 * size
    same(a, k)


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


def test_overflow_raises_value_error():
    k, v = kv(4, 8)
    assert error_name(SIZES, [("update", 0, 5, k, v)]) is None  # positions 5..8 fit in 9
    assert error_name(SIZES, [("update", 0, 6, k, v)]) == "ValueError"
    assert error_name(SIZES, [("update", 0, 0, *kv(6, 9)), ("update", 0, 6, k, v)]) == "ValueError"


def test_in_the_model_chunked_and_after_reset():
    model = random_llama("gqa3_untied", seed=11)
    first = random_ids(model.config.vocab_size, 2, 12, seed=12)
    second = random_ids(model.config.vocab_size, 2, 12, seed=13)
    result = call("cached_logits_trusted_attention", model_spec(model), [first, second], [7, 3, 1, 1])
    assert result["lengths"] == [12, 12]
    with torch.no_grad():
        for logits, ids in zip(result["logits"], [first, second]):
            assert isinstance(logits, torch.Tensor) and logits.shape == (2, 12, model.config.vocab_size)
            torch.testing.assert_close(logits, model(ids), atol=1e-4, rtol=1e-4)
