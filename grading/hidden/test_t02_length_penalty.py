"""Hidden tests of t02_length_penalty: GNMT's (5 + |Y|)^a / 6^a (the lecture's) and transformers' |Y|^a."""
import pytest

from tests.adapters import call

pytestmark = pytest.mark.task("t02_length_penalty")

LENGTHS = [1, 2, 3, 6, 10, 17, 64]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 0.7, 1.0, 1.5, -0.5])
def test_both_forms(alpha):
    values = call("length_penalties", LENGTHS, alpha)
    assert isinstance(values, list) and len(values) == len(LENGTHS)
    for n, (gnmt, hf) in zip(LENGTHS, values):
        assert gnmt == pytest.approx((5 + n) ** alpha / 6 ** alpha, rel=1e-6), f"GNMT lp(|Y|={n}, alpha={alpha})"
        assert hf == pytest.approx(n ** alpha, rel=1e-6), f"transformers' lp(|Y|={n}, alpha={alpha})"


def test_gnmt_is_one_for_a_single_token_and_grows_with_length():
    (g1, _), (g9, _) = call("length_penalties", [1, 9], 0.65)
    assert g1 == pytest.approx(1.0) and g9 > 1.0
