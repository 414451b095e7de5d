"""Hidden tests of t01_sample: one token per row drawn from softmax(logits) with the given generator, exactly
as torch.multinomial(probs, 1, generator=generator) draws it over the whole batch."""
import pytest
import torch

from tests.adapters import call
from tests.logits_cases import INF, random_logits

pytestmark = pytest.mark.task("t01_sample")


def multinomial(logits, seed):
    probs = torch.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed)).squeeze(1)


def check(logits, seed):
    out = call("sample", logits, seed)
    assert isinstance(out, torch.Tensor), f"sample must return a tensor, got {type(out).__name__}"
    assert out.dtype == torch.int64, f"token ids must be int64, got {out.dtype}"
    assert out.shape == (logits.shape[0],), f"expected shape ({logits.shape[0]},), got {tuple(out.shape)}"
    assert not torch.isneginf(logits.gather(1, out[:, None])).any(), "drew a token whose logit is -inf"
    assert torch.equal(out, multinomial(logits, seed)), \
        "tokens differ from torch.multinomial(softmax(logits), 1, generator=generator) on the same seed"


@pytest.mark.parametrize("seed", [0, 11, 222])
def test_same_tokens_as_multinomial(seed):
    check(random_logits(seed, batch=32, vocab=50, scale=1.0), seed)


def test_minus_inf_and_peaked_rows():
    logits = random_logits(5, batch=16, vocab=20, neg_inf=True)
    logits[3] = -INF
    logits[3, 7] = 0.0  # only token 7 is possible
    check(logits, 5)


def test_consumes_the_generator_like_one_multinomial_call():
    """Two seeds, many rows of a flat distribution: any other way of drawing shows."""
    for seed in (1, 2):
        check(torch.zeros(64, 10), seed)
