"""Hidden tests of t02_temperature: logits / T (compared through softmax, so any per-row shift is accepted),
ints accepted, invalid T rejected, dtype kept, input not modified."""
import math

import pytest
import torch

from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import INF, random_logits

pytestmark = pytest.mark.task("t02_temperature")

PROMISES = {
    "formula": "Temperature scaling: logits / T, so that softmax gives softmax(z / T).",
    "zero_invalid": "T = 0 itself is invalid: this function raises",
    "int_temperature": "an int such as 2 is accepted",
    "dtype": "A new (B, V) tensor of the same dtype.",
    "finite": "Finite logits stay finite and -inf stays -inf",
    "no_mutation": "never modifies its inputs",
    "validation": "Raises ValueError (naming the argument and its value) when temperature is not a finite number > 0 "
                  "(bool, 0, negative, inf and nan included), and when logits is not a 2-D float tensor.",
}


def check(logits, t):
    out = call("apply_temperature", logits, t)
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert out.shape == logits.shape and out.dtype == logits.dtype, "keep the input's shape and dtype"
    assert torch.equal(torch.isneginf(out), torch.isneginf(logits)), "-inf logits must stay -inf, the others finite"
    got = torch.softmax(out.double(), dim=-1)
    want = torch.softmax(logits.double() / t, dim=-1)
    tol = 1e-6 if logits.dtype == torch.float32 else 2e-3
    torch.testing.assert_close(got, want, rtol=tol, atol=tol, msg=lambda m: f"softmax(output) != softmax(z / {t}): {m}")


@pytest.mark.promise("formula", "dtype", "finite", weight=5)
@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 1.7, 25.0])
def test_softmax_of_logits_over_t(t):
    check(random_logits(400, batch=5, vocab=40, neg_inf=True), t)


@pytest.mark.promise("formula", weight=1)
def test_values_by_hand():
    logits = torch.tensor([[3.0, -1.5, 0.0, -INF]])
    out = call("apply_temperature", logits, 0.5)
    torch.testing.assert_close(torch.softmax(out, -1), torch.softmax(torch.tensor([[6.0, -3.0, 0.0, -INF]]), -1))


@pytest.mark.promise("int_temperature", "dtype", weight=0.75)
def test_int_temperature_and_float16():
    check(random_logits(401, batch=3, vocab=10), 2)
    check(random_logits(402, batch=3, vocab=10).half(), 0.7)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("processors.apply_temperature", random_logits(403), 0.3) is True


@pytest.mark.promise("zero_invalid", "validation", weight=0.75)
@pytest.mark.parametrize("bad", [0.0, 0, -0.5, -2, INF, math.nan, True, "0.7", None])
def test_rejects_invalid_temperatures(bad):
    result = call("raises", "processors.apply_temperature", random_logits(404), bad)
    assert result is not None and result[0] == "ValueError", f"apply_temperature(T={bad!r}) should raise ValueError"


@pytest.mark.promise("finite", weight=0.5)
def test_widely_spread_finite_logits_stay_finite():
    """Logits from -200 to 100 with T = 0.1: every finite logit stays finite (divide, do not exponentiate)."""
    logits = torch.linspace(-200.0, 100.0, 12).repeat(2, 1)
    out = call("apply_temperature", logits, 0.1)
    assert isinstance(out, torch.Tensor) and out.shape == logits.shape
    assert torch.isfinite(out).all(), "finite logits must stay finite"
    torch.testing.assert_close(out.softmax(-1), (logits / 0.1).softmax(-1))


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """apply_temperature(logits, -0.5): the ValueError's message names temperature and -0.5; 1-D logits raise."""
    assert_value_error_names("processors.apply_temperature", "temperature", -0.5, random_logits(405), -0.5)
    result = call("raises", "processors.apply_temperature", torch.zeros(5), 0.5)
    assert result is not None and result[0] == "ValueError", "1-D logits must raise ValueError"
