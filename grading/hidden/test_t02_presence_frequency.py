"""Hidden tests of t02_presence_frequency: OpenAI's logit[j] - c[j] * frequency - (c[j] > 0) * presence over
each row's generated tokens, penalties of either sign, validation, dtype kept, input not modified."""
import math

import pytest
import torch

from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import INF, check_filtered, random_logits, random_token_ids

pytestmark = pytest.mark.task("t02_presence_frequency")

PROMISES = {
    "formula": "logit[j] - c[j] * frequency_penalty - (1 if c[j] > 0 else 0) * presence_penalty",
    "count_per_row": "with c[j] the number of times j occurs in the generated tokens of the row",
    "either_sign": "Both are additive and may be negative",
    "empty": "G may be 0.",
    "dtype": "A new (B, V) tensor of the same dtype.",
    "no_mutation": "never modifies its inputs",
    "validation": "Raises ValueError (naming the argument and its value) when a penalty is not a finite number, "
                  "when logits is not a 2-D float tensor, or generated_ids not a 2-D integer tensor with B rows.",
}


def openai(logits, generated, presence, frequency):
    """The formula, one entry at a time, in float64."""
    out = logits.double().clone()
    for b, row in enumerate(generated.tolist()):
        for j in set(row):
            out[b, j] -= row.count(j) * frequency + presence
    return out


def check(logits, generated, presence, frequency):
    out = call("presence_frequency_penalty", logits, generated, presence, frequency)
    tol = 1e-5 if logits.dtype == torch.float32 else 1e-2
    check_filtered(out, logits, openai(logits, generated, presence, frequency).to(logits.dtype), rtol=tol, atol=tol)


@pytest.mark.promise("formula", weight=1.5)
def test_by_hand():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, -INF]])
    generated = torch.tensor([[1, 1, 1, 3], [3, 3, 0, 0]])
    out = call("presence_frequency_penalty", logits, generated, 0.5, 2.0)
    check_filtered(out, logits, torch.tensor([[0.0, 1.0 - 6.0 - 0.5, 2.0, 3.0 - 2.0 - 0.5],
                                              [0.0 - 4.0 - 0.5, 1.0, 2.0, -INF]]))


@pytest.mark.promise("formula", "either_sign", "dtype", weight=4.5)
@pytest.mark.parametrize("presence,frequency", [(0.4, 0.0), (0.0, 0.7), (1.0, 0.3), (-0.5, 1.2), (0.8, -1.5)])
def test_random_batches(presence, frequency):
    for seed in range(2):
        logits = random_logits(600 + seed, batch=3, vocab=9, neg_inf=seed == 1)
        generated = random_token_ids(600 + seed, 3, 14, 9, distinct=6)
        check(logits, generated, presence, frequency)
    check(random_logits(602, batch=2, vocab=9).half(), random_token_ids(602, 2, 10, 9), presence, frequency)


@pytest.mark.promise("count_per_row", "empty", weight=1)
def test_rows_are_independent_and_no_generated_tokens():
    logits = torch.zeros(3, 4)
    check(logits, torch.tensor([[0, 0, 0], [1, 2, 3], [3, 3, 1]]), 1.0, 1.0)
    check(logits, torch.zeros(3, 0, dtype=torch.long), 1.0, 1.0)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("processors.presence_frequency_penalty", random_logits(610, vocab=8),
                random_token_ids(610, 4, 6, 8), 0.5, 0.5) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("presence,frequency", [(INF, 0.0), (0.0, -INF), (math.nan, 0.0), ("0.5", 0.0), (0.0, None),
                                                (True, 0.0)])
def test_rejects_invalid_penalties(presence, frequency):
    result = call("raises", "processors.presence_frequency_penalty", random_logits(620, vocab=8),
                  random_token_ids(620, 4, 3, 8), presence, frequency)
    assert result is not None and result[0] == "ValueError", f"penalties {presence!r}, {frequency!r} should raise"


@pytest.mark.promise("validation", weight=0.25)
def test_rejects_mismatched_or_non_integer_ids():
    logits = random_logits(630, vocab=8)
    for ids in [random_token_ids(630, 2, 4, 8), random_token_ids(630, 4, 4, 8).double()]:
        result = call("raises", "processors.presence_frequency_penalty", logits, ids, 0.5, 0.5)
        assert result is not None and result[0] == "ValueError", f"generated_ids {ids.dtype} {tuple(ids.shape)}"


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """presence_frequency_penalty(logits, ids, 0.5, nan): the ValueError's message names frequency_penalty and nan."""
    assert_value_error_names("processors.presence_frequency_penalty", "frequency_penalty", math.nan,
                             random_logits(631, vocab=8), random_token_ids(631, 4, 3, 8), 0.5, math.nan)
