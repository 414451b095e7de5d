"""Hidden tests of t01_greedy: argmax of each row, the lowest index on ties, int64 of shape (B,)."""
import pytest
import torch

from tests.adapters import call
from tests.logits_cases import INF, random_logits

pytestmark = pytest.mark.task("t01_greedy")

PROMISES = {
    "argmax": "Greedy decoding: the index of the largest logit in each row.",
    "float_logits": "logits: (B, V) float tensor.",
    "output": "(B,) int64 tensor of token ids.",
    "ties": "On ties the lowest index wins (as `torch.argmax` does).",
    "validation": "Raises ValueError when logits is not a 2-D float tensor",
}


def first_argmax(logits):
    """The lowest index holding each row's maximum (computed by hand, not with argmax)."""
    return torch.tensor([row.index(max(row)) for row in logits.tolist()])


def check(logits):
    out = call("greedy", logits)
    assert isinstance(out, torch.Tensor), f"greedy must return a tensor, got {type(out).__name__}"
    assert out.dtype == torch.int64, f"token ids must be int64, got {out.dtype}"
    assert out.shape == (logits.shape[0],), f"expected shape ({logits.shape[0]},), got {tuple(out.shape)}"
    assert torch.equal(out, first_argmax(logits)), "not the first index of each row's largest logit"


@pytest.mark.promise("ties", weight=1.5)
def test_ties_pick_the_lowest_index():
    check(torch.tensor([[1.0, 5.0, 5.0, 2.0], [7.0, 7.0, 7.0, 7.0], [-INF, -INF, 0.5, 0.5], [0.0, 1.0, 0.0, 1.0]]))


@pytest.mark.promise("argmax", "float_logits", "output", weight=4)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
def test_random_batches_with_minus_inf(dtype):
    for seed in range(3):
        check(random_logits(100 + seed, batch=7, vocab=[5, 40, 300][seed], neg_inf=seed == 1).to(dtype))


@pytest.mark.promise("argmax", weight=1)
def test_close_logits_are_not_ties():
    check(torch.tensor([[0.0, 1e-4, -1.0], [2.0, 2.0 - 1e-5, 1.0]]))


@pytest.mark.promise("argmax", "output", weight=1)
def test_one_row_and_large_vocabulary():
    check(random_logits(7, batch=1, vocab=5000))


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("logits", [torch.zeros(6), torch.zeros(2, 3, 4), torch.zeros(2, 6, dtype=torch.long)],
                         ids=["1-D", "3-D", "int64"])
def test_rejects_logits_that_are_not_a_2d_float_tensor(logits):
    result = call("raises", "decoding.greedy", logits)
    assert result is not None and result[0] == "ValueError", f"greedy({logits.dtype} {tuple(logits.shape)}): {result}"
