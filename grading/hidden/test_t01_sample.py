"""Hidden tests of t01_sample: one token per row drawn from softmax(logits) with the given generator, exactly
as torch.multinomial(probs, 1, generator=generator) draws it over the whole batch."""
import pytest
import torch

from tests.adapters import call
from tests.logits_cases import INF, random_logits

pytestmark = pytest.mark.task("t01_sample")

PROMISES = {
    "softmax": "Draw one token per row from softmax(logits).",
    "multinomial": "Use `torch.multinomial(probs, 1, generator=generator)` on the whole batch at once",
    "minus_inf": "Tokens whose logit is -inf have probability 0 and are never drawn.",
    "global_generator": "generator: the random number generator to draw from; None means torch's global one.",
    "output": "(B,) int64 tensor of token ids",
    "validation": "Raises ValueError when logits is not a 2-D float tensor.",
}


def multinomial(logits, seed=None):
    """torch.multinomial over the whole batch: with a fresh generator seeded `seed`, or None: the global one."""
    probs = torch.softmax(logits.float(), dim=-1)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def check(out, logits, expected):
    assert isinstance(out, torch.Tensor), f"sample must return a tensor, got {type(out).__name__}"
    assert out.dtype == torch.int64, f"token ids must be int64, got {out.dtype}"
    assert out.shape == (logits.shape[0],), f"expected shape ({logits.shape[0]},), got {tuple(out.shape)}"
    assert not torch.isneginf(logits.gather(1, out[:, None])).any(), "drew a token whose logit is -inf"
    assert torch.equal(out, expected), \
        "tokens differ from torch.multinomial(softmax(logits), 1, generator=generator) on the same seed"


@pytest.mark.promise("softmax", "multinomial", "output", weight=4)
@pytest.mark.parametrize("seed", [0, 11, 222])
def test_same_tokens_as_multinomial(seed):
    logits = random_logits(seed, batch=32, vocab=50, scale=1.0)
    check(call("sample", logits, seed), logits, multinomial(logits, seed))


@pytest.mark.promise("minus_inf", weight=1.5)
def test_minus_inf_and_peaked_rows():
    logits = random_logits(5, batch=16, vocab=20, neg_inf=True)
    logits[3] = -INF
    logits[3, 7] = 0.0  # only token 7 is possible
    check(call("sample", logits, 5), logits, multinomial(logits, 5))


@pytest.mark.promise("multinomial", weight=1.5)
def test_consumes_the_generator_like_one_multinomial_call():
    """Two seeds, many rows of a flat distribution: any other way of drawing shows."""
    for seed in (1, 2):
        logits = torch.zeros(64, 10)
        check(call("sample", logits, seed), logits, multinomial(logits, seed))


@pytest.mark.promise("global_generator", weight=1)
def test_without_a_generator_draws_from_the_global_one():
    """sample(logits) after torch.manual_seed(seed) gives the tokens of torch.multinomial after the same seed."""
    logits = random_logits(33, batch=24, vocab=30, scale=1.0)
    torch.manual_seed(4)
    expected = multinomial(logits)
    check(call("sample_global", logits, 4), logits, expected)


@pytest.mark.promise("validation", weight=0.5)
def test_rejects_logits_that_are_not_a_2d_float_tensor():
    for logits in (torch.zeros(5), torch.zeros(2, 5, dtype=torch.long)):
        result = call("raises", "decoding.sample", logits)
        assert result is not None and result[0] == "ValueError", f"sample({logits.dtype} {tuple(logits.shape)})"
