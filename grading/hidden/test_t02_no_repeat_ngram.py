"""Hidden tests of t02_no_repeat_ngram: every earlier window whose first n-1 tokens equal the row's last n-1
tokens bans its last token; rows independent; short rows unchanged; validation; dtype kept; input not modified."""
import pytest
import torch

from llmlab.processors import no_repeat_ngram as reference
from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import check_filtered, random_logits, random_token_ids

pytestmark = pytest.mark.task("t02_no_repeat_ngram")

PROMISES = {
    "rule": "Every earlier length-n window of input_ids (prompt included) that starts with those same n-1 tokens "
            "bans its last token: its logit becomes -inf.",
    "short_rows": "Rows shorter than n are left unchanged",
    "n_one": "n = 1 bans every token seen.",
    "examples": "Examples (n, tokens -> banned): (2, [1,2,3,1] -> {2}); (2, [1,2,1,3,1] -> {2,3}); "
                "(3, [1,2,3,1,2] -> {3}); (3, [5,5,5] -> {5}); (1, [1,4,4] -> {1,4}).",
    "own_row": "Forbid any n-gram from occurring twice in a row's tokens",
    "dtype": "A new (B, V) tensor of the same dtype.",
    "no_mutation": "never modifies its inputs",
    "validation": "Raises ValueError (naming the argument and its value) when n is not an int > 0, when logits is "
                  "not a 2-D float tensor, or input_ids not a 2-D integer tensor with B rows.",
}


def banned(n, rows, vocab=10):
    logits = torch.zeros(len(rows), vocab)
    out = call("no_repeat_ngram", logits, torch.tensor(rows), n)
    assert isinstance(out, torch.Tensor) and out.shape == logits.shape and out.dtype == logits.dtype
    assert not (out[~torch.isneginf(out)] != 0).any(), "tokens that are not banned must keep their logits"
    return [set(torch.nonzero(torch.isneginf(row)).flatten().tolist()) for row in out]


@pytest.mark.promise("rule", "examples", "short_rows", "n_one", weight=3)
@pytest.mark.parametrize("n,tokens,expected", [
    (2, [1, 2, 3, 1], {2}),
    (2, [1, 2, 1, 3, 1], {2, 3}),
    (3, [1, 2, 3, 1, 2], {3}),
    (3, [1, 2, 3, 1, 3], set()),
    (3, [5, 5, 5], {5}),
    (4, [1, 2, 1, 2], set()),
    (4, [7, 1, 2, 3, 9, 1, 2, 3], {9}),
    (1, [1, 4, 4], {1, 4}),
    (2, [1], set()),
    (3, [1, 2], set()),
])
def test_table(n, tokens, expected):
    assert banned(n, [tokens]) == [expected]


@pytest.mark.promise("own_row", weight=1)
def test_rows_are_independent():
    assert banned(2, [[1, 2, 3, 1], [4, 5, 6, 4], [1, 1, 1, 1], [0, 9, 8, 7]]) == [{2}, {5}, {1}, set()]
    assert banned(3, [[1, 2, 3, 1, 2], [3, 1, 2, 8, 8]]) == [{3}, set()]


@pytest.mark.promise("rule", "dtype", weight=3)
def test_random_batches():
    for seed in range(3):
        logits = random_logits(700 + seed, batch=4, vocab=7, neg_inf=seed == 0)
        ids = random_token_ids(700 + seed, 4, [5, 12, 40][seed], 7, distinct=4)
        for n in [1, 2, 3, 5]:
            check_filtered(call("no_repeat_ngram", logits, ids, n), logits, reference(logits, ids, n), rtol=0, atol=0)
        half = logits.half()
        check_filtered(call("no_repeat_ngram", half, ids, 2), half, reference(half, ids, 2), rtol=0, atol=0)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("processors.no_repeat_ngram", random_logits(710, vocab=8),
                random_token_ids(710, 4, 9, 8), 2) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("bad", [0, -2, 2.0, "2", None, True])
def test_rejects_invalid_n(bad):
    logits, ids = random_logits(720, vocab=8), random_token_ids(720, 4, 6, 8)
    result = call("raises", "processors.no_repeat_ngram", logits, ids, bad)
    assert result is not None and result[0] == "ValueError", f"no_repeat_ngram(n={bad!r}) should raise ValueError"


@pytest.mark.promise("validation", weight=0.25)
def test_rejects_mismatched_ids():
    logits, ids = random_logits(730, vocab=8), random_token_ids(730, 3, 6, 8)
    result = call("raises", "processors.no_repeat_ngram", logits, ids, 2)
    assert result is not None and result[0] == "ValueError"


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """no_repeat_ngram(logits, ids, -2): the ValueError's message names n and -2."""
    assert_value_error_names("processors.no_repeat_ngram", "n", -2, random_logits(721, vocab=8),
                             random_token_ids(721, 4, 6, 8), -2)
