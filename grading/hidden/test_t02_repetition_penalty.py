"""Hidden tests of t02_repetition_penalty: transformers' repetition penalty (each seen token of a row once:
s / penalty if s >= 0 else s * penalty), rows independent, validation, dtype kept, input not modified."""
import math

import pytest
import torch

from llmlab.processors import repetition_penalty as reference
from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import INF, check_filtered, random_logits, random_token_ids

pytestmark = pytest.mark.task("t02_repetition_penalty")

PROMISES = {
    "formula": "its logit s in row b becomes s / penalty if s >= 0, else s * penalty",
    "whole_row": "For every token that occurs in row b of input_ids (prompt and generated tokens",
    "once": "each token counted once however often it occurs",
    "reward": "penalty < 1 rewards repetition",
    "others_unchanged": "Other tokens are unchanged",
    "own_row": "each row uses only its own input_ids",
    "ids": "input_ids: (B, L) integer tensor of token ids in [0, V); L may be 0.",
    "dtype": "A new (B, V) tensor of the same dtype.",
    "no_mutation": "never modifies its inputs",
    "validation": "Raises ValueError (naming the argument and its value) when penalty is not a finite number > 0, "
                  "when logits is not a 2-D float tensor, or input_ids not a 2-D integer tensor with B rows",
}


def check(logits, ids, penalty):
    out = call("repetition_penalty", logits, ids, penalty)
    tol = 1e-6 if logits.dtype == torch.float32 else 1e-3
    check_filtered(out, logits, reference(logits, ids, penalty), rtol=tol, atol=tol)


@pytest.mark.promise("formula", "others_unchanged", "whole_row", weight=1.5)
def test_by_hand():
    logits = torch.tensor([[2.0, -2.0, 0.0, 1.0, -1.0, 3.0], [4.0, -4.0, 1.0, -INF, 2.0, -3.0]])
    ids = torch.tensor([[0, 1, 2, 1, 1, 4], [3, 3, 5, 5, 5, 1]])
    out = call("repetition_penalty", logits, ids, 2.0)
    check_filtered(out, logits, torch.tensor([[1.0, -4.0, 0.0, 1.0, -2.0, 3.0], [4.0, -8.0, 1.0, -INF, 2.0, -6.0]]))


@pytest.mark.promise("formula", "reward", "dtype", "others_unchanged", weight=4)
@pytest.mark.parametrize("penalty", [0.6, 1.3, 2.5])
def test_random_batches(penalty):
    for seed in range(3):
        logits = random_logits(500 + seed, batch=4, vocab=12, neg_inf=seed == 1)
        ids = random_token_ids(500 + seed, 4, [1, 6, 25][seed], 12)
        check(logits, ids, penalty)
        check(logits.half(), ids, penalty)


@pytest.mark.promise("own_row", "once", weight=1.5)
def test_rows_use_their_own_tokens_and_repeats_count_once():
    logits = torch.tensor([[1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [1.0, -1.0, 2.0]])
    ids = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 2, 0]])
    check(logits, ids, 1.5)


@pytest.mark.promise("ids", weight=0.5)
def test_empty_ids_and_int32_ids():
    logits = random_logits(510, batch=2, vocab=6)
    check(logits, torch.zeros(2, 0, dtype=torch.long), 1.5)
    check(logits, random_token_ids(510, 2, 5, 6).int(), 1.5)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("processors.repetition_penalty", random_logits(520, vocab=8),
                random_token_ids(520, 4, 6, 8), 1.7) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("bad", [0.0, -1.5, INF, math.nan, True, "1.2", None])
def test_rejects_invalid_penalties(bad):
    logits, ids = random_logits(530, vocab=8), random_token_ids(530, 4, 3, 8)
    result = call("raises", "processors.repetition_penalty", logits, ids, bad)
    assert result is not None and result[0] == "ValueError", f"repetition_penalty(penalty={bad!r}) should raise"


@pytest.mark.promise("validation", weight=0.25)
def test_rejects_mismatched_or_non_integer_ids():
    logits = random_logits(540, vocab=8)
    bad_ids = [random_token_ids(540, 3, 4, 8), random_token_ids(540, 4, 4, 8).float(), torch.zeros(4, dtype=torch.long)]
    for ids in bad_ids:
        result = call("raises", "processors.repetition_penalty", logits, ids, 1.2)
        assert result is not None and result[0] == "ValueError", f"input_ids {ids.dtype} {tuple(ids.shape)}"


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """repetition_penalty(logits, ids, -1.5): the ValueError's message names penalty and -1.5."""
    assert_value_error_names("processors.repetition_penalty", "penalty", -1.5, random_logits(531, vocab=8),
                             random_token_ids(531, 4, 3, 8), -1.5)
