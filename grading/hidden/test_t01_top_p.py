"""Hidden tests of t01_top_p: transformers' TopPLogitsWarper semantics (keep a token while the probability
ranked above it is < p: the crossing token stays, an exact hit stops), min_tokens_to_keep, p in {0, 1},
-inf entries, float16, a new tensor, and argument validation. Random cases keep their cumulative
probabilities away from the boundary, so that rounding cannot decide them."""
import pytest
import torch

from llmlab.decoding import top_p_filter as reference
from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import TOP_PS, check_filtered, nucleus_logits, random_logits

pytestmark = pytest.mark.task("t01_top_p")

PROMISES = {
    "rule": "token t is kept when the total probability of the tokens ranked above it is < p",
    "crossing": "the token whose probability crosses p is kept",
    "exact_hit": "a set whose probability equals p exactly stops there",
    "examples": "Examples: probabilities [.5, .3, .2] with p=.8 keep {.5, .3}; with p=.81 all three; with p=.5 only .5.",
    "p_zero": "p=0 keeps the most likely token only (or min_tokens_to_keep tokens)",
    "p_one": "p=1 keeps every token whose probability is not 0",
    "min_tokens_to_keep": "min_tokens_to_keep: an int >= 1; at least this many tokens survive in each row.",
    "dtype": "A new (B, V) tensor of the same dtype",
    "no_mutation": "the input is not modified.",
    "validation": "Raises ValueError (naming the argument and its value) when p is not a number in [0, 1] or "
                  "min_tokens_to_keep is not an int >= 1, and when logits is not a 2-D float tensor.",
}


def kept(probs, p, mtk=1):
    out = call("top_p_filter", torch.tensor(probs).log(), p, min_tokens_to_keep=mtk)
    assert isinstance(out, torch.Tensor) and out.shape == (len(probs), len(probs[0]))
    return (~torch.isneginf(out)).tolist()


@pytest.mark.promise("crossing", weight=1.5)
def test_the_crossing_token_is_kept():
    assert kept([[0.5, 0.3, 0.2]], 0.6) == [[True, True, False]]
    assert kept([[0.1, 0.2, 0.3, 0.4]], 0.65) == [[False, False, True, True]]
    assert kept([[0.05, 0.15, 0.7, 0.1], [0.3, 0.3, 0.39, 0.01]], 0.75) == [[False, True, True, False],
                                                                          [True, True, True, False]]


@pytest.mark.promise("exact_hit", weight=0.75)
def test_an_exact_hit_stops_there():
    """Equal logits give exact probabilities 1/n: the first tokens whose mass reaches p exactly are enough
    (which of the equal tokens survive is not graded, only how many)."""
    for logits, p, n in [(torch.zeros(4, 4), 0.5, 2), (torch.zeros(2, 8), 0.25, 2), (torch.zeros(2, 8), 0.75, 6),
                         (torch.tensor([[0.5, 0.25, 0.25]]).log(), 0.75, 2)]:
        out = call("top_p_filter", logits, p)
        assert isinstance(out, torch.Tensor) and out.shape == logits.shape
        assert (~torch.isneginf(out)).sum(dim=-1).tolist() == [n] * len(logits), f"p={p}: keep {n} of {logits.shape[1]}"


@pytest.mark.promise("p_zero", "min_tokens_to_keep", weight=0.75)
def test_p_zero_and_min_tokens_to_keep():
    assert kept([[0.2, 0.5, 0.3]], 0.0) == [[False, True, False]]
    assert kept([[0.2, 0.5, 0.3]], 0.0, mtk=2) == [[False, True, True]]
    assert kept([[0.05, 0.9, 0.03, 0.02]], 0.5, mtk=3) == [[True, True, True, False]]
    assert kept([[0.05, 0.9, 0.03, 0.02]], 0.95, mtk=4) == [[True, True, True, True]]


@pytest.mark.promise("rule", "dtype", "min_tokens_to_keep", weight=5)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_random_batches(dtype):
    margin = 1e-2 if dtype == torch.float16 else 1e-4
    for seed in range(4):
        vocab = [5, 12, 40, 9][seed] if dtype == torch.float16 else [5, 30, 100, 64][seed]
        logits = nucleus_logits(300 + seed, batch=4, vocab=vocab, dtype=dtype, margin=margin, neg_inf=seed % 2 == 1)
        for p in TOP_PS:
            for mtk in [1, 2]:
                out = call("top_p_filter", logits, p, min_tokens_to_keep=mtk)
                check_filtered(out, logits, reference(logits, p, min_tokens_to_keep=mtk), rtol=0, atol=0)


@pytest.mark.promise("p_one", weight=0.5)
def test_p_one_keeps_every_token():
    logits = random_logits(310, batch=3, vocab=20, neg_inf=True)
    check_filtered(call("top_p_filter", logits, 1.0), logits, logits, rtol=0, atol=0)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("decoding.top_p_filter", random_logits(320), 0.6) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("p,mtk", [(-0.5, 1), (1.01, 1), ("0.9", 1), (None, 1), (True, 1), (0.9, 0), (0.9, 1.5)])
def test_rejects_bad_arguments(p, mtk):
    result = call("raises", "decoding.top_p_filter", random_logits(330), p, min_tokens_to_keep=mtk)
    assert result is not None and result[0] == "ValueError", f"top_p_filter(p={p!r}, min_tokens_to_keep={mtk!r})"


@pytest.mark.promise("examples", weight=0.5)
def test_the_docstring_examples():
    """Probabilities [.5, .3, .2]: p=.8 keeps {.5, .3}, p=.81 all three, p=.5 only .5."""
    assert kept([[0.5, 0.3, 0.2]], 0.8) == [[True, True, False]]
    assert kept([[0.5, 0.3, 0.2]], 0.81) == [[True, True, True]]
    assert kept([[0.5, 0.3, 0.2]], 0.5) == [[True, False, False]]


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """top_p_filter(logits, 1.5) and top_p_filter(logits, 0.9, min_tokens_to_keep=0): the ValueError's message
    names the argument and its value."""
    assert_value_error_names("decoding.top_p_filter", "p", 1.5, random_logits(331), 1.5)
    assert_value_error_names("decoding.top_p_filter", "min_tokens_to_keep", 0, random_logits(331), 0.9,
                             min_tokens_to_keep=0)
    result = call("raises", "decoding.top_p_filter", torch.zeros(2, 3, 4), 0.9)
    assert result is not None and result[0] == "ValueError", "3-D logits must raise ValueError"
