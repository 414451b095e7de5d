"""Hidden tests of t02_temperature: logits / T (compared through softmax, so any per-row shift is accepted),
ints accepted, invalid T rejected, dtype kept, input not modified."""
import math

import pytest
import torch

from tests.adapters import call, does_not_mutate
from tests.logits_cases import INF, random_logits

pytestmark = pytest.mark.task("t02_temperature")


def check(logits, t):
    out = call("apply_temperature", logits, t)
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert out.shape == logits.shape and out.dtype == logits.dtype, "keep the input's shape and dtype"
    assert torch.equal(torch.isneginf(out), torch.isneginf(logits)), "-inf logits must stay -inf, the others finite"
    got = torch.softmax(out.double(), dim=-1)
    want = torch.softmax(logits.double() / t, dim=-1)
    tol = 1e-6 if logits.dtype == torch.float32 else 2e-3
    torch.testing.assert_close(got, want, rtol=tol, atol=tol, msg=lambda m: f"softmax(output) != softmax(z / {t}): {m}")


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 1.7, 25.0])
def test_softmax_of_logits_over_t(t):
    check(random_logits(400, batch=5, vocab=40, neg_inf=True), t)


def test_values_by_hand():
    logits = torch.tensor([[3.0, -1.5, 0.0, -INF]])
    out = call("apply_temperature", logits, 0.5)
    torch.testing.assert_close(torch.softmax(out, -1), torch.softmax(torch.tensor([[6.0, -3.0, 0.0, -INF]]), -1))


def test_int_temperature_and_float16():
    check(random_logits(401, batch=3, vocab=10), 2)
    check(random_logits(402, batch=3, vocab=10).half(), 0.7)


def test_does_not_modify_its_input():
    assert does_not_mutate("processors.apply_temperature", random_logits(403), 0.3) is True


@pytest.mark.parametrize("bad", [0.0, 0, -0.5, -2, INF, math.nan, "0.7", None])
def test_rejects_invalid_temperatures(bad):
    result = call("raises", "processors.apply_temperature", random_logits(404), bad)
    assert result is not None and result[0] == "ValueError", f"apply_temperature(T={bad!r}) should raise ValueError"
