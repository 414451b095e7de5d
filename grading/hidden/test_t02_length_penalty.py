"""Hidden tests of t02_length_penalty: GNMT's (5 + |Y|)^a / 6^a (the lecture's) and transformers' |Y|^a."""
import pytest
import torch

from tests.adapters import call

pytestmark = pytest.mark.task("t02_length_penalty")

PROMISES = {
    "gnmt": "lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha",
    "gnmt_alpha_zero": "alpha = 0 gives 1 (no normalisation)",
    "hf": "The length penalty of transformers' beam search: |Y|^alpha (not GNMT's form).",
    "hf_alpha": "alpha = 1 (the default) compares mean log-probabilities, 0 the raw sums.",
    "numbers": "lp(Y): a float (a tensor for a tensor length).",
    "hf_numbers": "|Y|^alpha: a float (a tensor for a tensor length).",
}

LENGTHS = [1, 2, 3, 6, 10, 17, 64]


@pytest.mark.promise("gnmt", "hf", "gnmt_alpha_zero", "hf_alpha", weight=5)
@pytest.mark.parametrize("alpha", [0.0, 0.6, 0.7, 1.0, 1.5, -0.5])
def test_both_forms(alpha):
    values = call("length_penalties", LENGTHS, alpha)
    assert isinstance(values, list) and len(values) == len(LENGTHS)
    for n, (gnmt, hf) in zip(LENGTHS, values):
        assert gnmt == pytest.approx((5 + n) ** alpha / 6 ** alpha, rel=1e-6), f"GNMT lp(|Y|={n}, alpha={alpha})"
        assert hf == pytest.approx(n ** alpha, rel=1e-6), f"transformers' lp(|Y|={n}, alpha={alpha})"


@pytest.mark.promise("gnmt", weight=1)
def test_gnmt_is_one_for_a_single_token_and_grows_with_length():
    (g1, _), (g9, _) = call("length_penalties", [1, 9], 0.65)
    assert g1 == pytest.approx(1.0) and g9 > 1.0


@pytest.mark.promise("numbers", "hf_numbers", weight=1)
def test_a_tensor_of_lengths_gives_a_tensor():
    """gnmt_length_penalty(torch.tensor([1., 4., 9.]), 0.6) and hf_length_penalty(the same, 0.6) are tensors."""
    lengths = torch.tensor([1.0, 4.0, 9.0])
    values = call("length_penalties_of_tensor", lengths, 0.6)
    for value, want in zip(values, [(5 + lengths) ** 0.6 / 6 ** 0.6, lengths ** 0.6]):
        assert isinstance(value, torch.Tensor) and value.shape == (3,), "a tensor of lengths gives a tensor"
        torch.testing.assert_close(value.double(), want.double(), rtol=1e-6, atol=1e-6)
