"""Test inputs and checks shared by the tests of notebooks 01 and 02: random logits (with ties, -inf entries,
cumulative probabilities kept away from the top-p boundaries), token ids with repeats, and the check that a
filtered or processed batch of logits is what was expected."""
import math

import torch

INF = math.inf
TOP_PS = [0.1, 0.5, 0.8, 0.9, 0.95]  # the p values nucleus_logits keeps clear of


def random_logits(seed: int, batch: int = 4, vocab: int = 30, ties: bool = False, neg_inf: bool = False,
                  scale: float = 3.0) -> torch.Tensor:
    """Random (batch, vocab) logits; with ties, rounded so that equal values occur; with neg_inf, ~20% -inf."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, vocab, generator=g) * scale
    if ties:
        x = x.round()
    if neg_inf:
        x[torch.rand(batch, vocab, generator=g) < 0.2] = -INF
        x[:, 0] = x[:, 0].clamp(min=0)  # at least one finite logit per row
    return x


def nucleus_logits(seed: int, batch: int, vocab: int, dtype=torch.float32, margin: float = 1e-4,
                   neg_inf: bool = False, top_ps=TOP_PS) -> torch.Tensor:
    """Random logits whose cumulative probabilities stay `margin` away from 1 - p for every p of `top_ps`, so
    that the kept set does not hinge on rounding (and ties at the boundary, which depend on an unstable sort,
    do not occur)."""
    rows, attempt = [], 0
    while len(rows) < batch:
        attempt += 1
        x = random_logits(seed * 10000 + attempt, 1, vocab, neg_inf=neg_inf, scale=2.0).to(dtype)
        cum = torch.sort(x.double(), dim=-1).values.softmax(-1).cumsum(-1)
        if all((cum - (1 - p)).abs().min() > margin for p in top_ps):
            rows.append(x)
    return torch.cat(rows)


def random_token_ids(seed: int, batch: int, length: int, vocab: int, distinct: int = 8) -> torch.Tensor:
    """Token ids with plenty of repeats (drawn from the first `distinct` ids of the vocabulary)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, min(vocab, distinct), (batch, length), generator=g)


def check_filtered(out, logits, expected, rtol=1e-6, atol=1e-6):
    """`out` is a tensor of logits' shape and dtype, equal to `expected`: the same -inf positions and, elsewhere,
    the same values (within rtol, atol)."""
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert out.shape == logits.shape, f"shape {tuple(out.shape)}, expected {tuple(logits.shape)}"
    assert out.dtype == logits.dtype, f"dtype {out.dtype}, expected {logits.dtype} (keep the input's dtype)"
    assert torch.equal(torch.isneginf(out), torch.isneginf(expected)), "a different set of tokens was removed"
    kept = ~torch.isneginf(expected)
    torch.testing.assert_close(out[kept], expected[kept], rtol=rtol, atol=atol)
