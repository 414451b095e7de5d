"""Notebook 02: temperature, penalties and the processor chain.

Expected values come from transformers' own logits processors (TemperatureLogitsWarper,
RepetitionPenaltyLogitsProcessor, NoRepeatNGramLogitsProcessor, TopK/TopPLogitsWarper, chained in the order of
GenerationMixin._get_logits_processor), from the OpenAI formula for presence/frequency penalties, from the
lecture's GNMT formula, or from small cases worked out by hand."""
import math

import pytest
import torch
from transformers.generation.logits_process import (LogitsProcessorList, NoRepeatNGramLogitsProcessor,
                                                    RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

from tests.adapters import call
from tests.asserts import assert_does_not_mutate, assert_raises_value_error
from tests.logits_cases import INF, check_filtered, random_logits
from tests.logits_cases import random_token_ids as random_ids


def rejects(fn, *args, **kwargs) -> None:
    assert_raises_value_error(f"processors.{fn}", *args, **kwargs)


# ---- t02_temperature ---------------------------------------------------------------------------------------

@pytest.mark.task("t02_temperature")
def test_temperature_divides_the_logits():
    logits = torch.tensor([[2.0, 4.0, -6.0, -INF]])
    check_filtered(call("apply_temperature", logits, 2.0), logits, torch.tensor([[1.0, 2.0, -3.0, -INF]]))
    check_filtered(call("apply_temperature", logits, 2), logits, torch.tensor([[1.0, 2.0, -3.0, -INF]]))


@pytest.mark.task("t02_temperature")
def test_low_temperature_sharpens_and_high_temperature_flattens():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    p1 = torch.softmax(logits, -1)
    cold = torch.softmax(call("apply_temperature", logits, 0.5), -1)
    hot = torch.softmax(call("apply_temperature", logits, 5.0), -1)
    assert cold[0, 2] > p1[0, 2] > hot[0, 2] > 1 / 3
    torch.testing.assert_close(torch.softmax(call("apply_temperature", logits, 1e-3), -1),
                               torch.tensor([[0.0, 0.0, 1.0]]))  # T -> 0: greedy


@pytest.mark.task("t02_temperature")
@pytest.mark.parametrize("seed", range(4))
def test_temperature_equals_transformers(seed):
    logits = random_logits(seed, neg_inf=True)
    if seed == 3:
        logits = logits.half()
    for t in [0.05, 0.7, 1.0, 1.3, 10.0]:
        check_filtered(call("apply_temperature", logits, t), logits, TemperatureLogitsWarper(t)(None, logits))


@pytest.mark.task("t02_temperature")
@pytest.mark.parametrize("bad", [0.0, 0, -1.0, INF, math.nan, True, "1.0", None])
def test_temperature_rejects_bad_values(bad):
    rejects("apply_temperature", random_logits(0), bad)


@pytest.mark.task("t02_temperature")
def test_temperature_rejects_logits_that_are_not_a_batch_and_does_not_mutate():
    rejects("apply_temperature", torch.zeros(5), 1.0)
    assert_does_not_mutate("processors.apply_temperature", random_logits(1), 0.5)


# ---- t02_repetition_penalty --------------------------------------------------------------------------------

@pytest.mark.task("t02_repetition_penalty")
def test_repetition_penalty_by_hand():
    logits = torch.tensor([[2.0, -2.0, 0.0, 1.0, -1.0, 3.0],
                           [2.0, -2.0, 0.0, 1.0, -1.0, 3.0]])
    ids = torch.tensor([[0, 1, 2, 1, 1, 4],      # token 1 three times: penalised once
                        [5, 5, 5, 5, 5, 5]])     # each row uses its own tokens only
    expected = torch.tensor([[1.0, -4.0, 0.0, 1.0, -2.0, 3.0],
                             [2.0, -2.0, 0.0, 1.0, -1.0, 1.5]])
    check_filtered(call("repetition_penalty", logits, ids, 2.0), logits, expected)


@pytest.mark.task("t02_repetition_penalty")
def test_repetition_penalty_below_one_rewards_and_empty_ids_change_nothing():
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    check_filtered(call("repetition_penalty", logits, torch.tensor([[0, 1]]), 0.5), logits,
                   torch.tensor([[4.0, -1.0, 1.0]]))
    check_filtered(call("repetition_penalty", logits, torch.zeros(1, 0, dtype=torch.long), 1.5), logits, logits)


@pytest.mark.task("t02_repetition_penalty")
@pytest.mark.parametrize("seed", range(6))
def test_repetition_penalty_equals_transformers(seed):
    logits = random_logits(seed, batch=5, vocab=12, neg_inf=seed % 2 == 0)
    if seed % 3 == 2:
        logits = logits.half()
    ids = random_ids(seed, 5, [0, 1, 7, 20][seed % 4], 12)
    for penalty in [0.5, 1.0, 1.2, 3.0]:
        expected = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits)
        check_filtered(call("repetition_penalty", logits, ids, penalty), logits, expected)


@pytest.mark.task("t02_repetition_penalty")
@pytest.mark.parametrize("bad", [0.0, -1.0, INF, math.nan, True, "1.2", None])
def test_repetition_penalty_rejects_bad_penalties(bad):
    rejects("repetition_penalty", random_logits(0), random_ids(0, 4, 3, 30), bad)


@pytest.mark.task("t02_repetition_penalty")
def test_repetition_penalty_checks_shapes_and_does_not_mutate():
    logits = random_logits(0)
    rejects("repetition_penalty", logits, random_ids(0, 3, 5, 30), 1.2)          # 3 rows for 4
    rejects("repetition_penalty", logits, random_ids(0, 4, 5, 30).float(), 1.2)  # not token ids
    rejects("repetition_penalty", logits[0], random_ids(0, 1, 5, 30), 1.2)       # 1-D logits
    assert_does_not_mutate("processors.repetition_penalty", logits, random_ids(0, 4, 5, 30), 1.3)


# ---- t02_presence_frequency --------------------------------------------------------------------------------

@pytest.mark.task("t02_presence_frequency")
def test_presence_frequency_by_hand():
    """OpenAI: logit[j] - c[j] * frequency_penalty - (c[j] > 0) * presence_penalty."""
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0],
                           [1.0, 2.0, 3.0, 4.0, -INF]])
    generated = torch.tensor([[1, 1, 3, 1],
                              [0, 4, 4, 4]])
    expected = torch.tensor([[1.0, 2.0 - 3 * 0.25 - 0.5, 3.0, 4.0 - 0.25 - 0.5, 5.0],
                             [1.0 - 0.25 - 0.5, 2.0, 3.0, 4.0, -INF]])
    check_filtered(call("presence_frequency_penalty", logits, generated, 0.5, 0.25), logits, expected)


@pytest.mark.task("t02_presence_frequency")
def test_presence_and_frequency_separately_and_negative():
    logits = torch.zeros(1, 4)
    generated = torch.tensor([[2, 2, 2, 0]])
    check_filtered(call("presence_frequency_penalty", logits, generated, 1.0, 0.0), logits,
                   torch.tensor([[-1.0, 0.0, -1.0, 0.0]]))
    check_filtered(call("presence_frequency_penalty", logits, generated, 0.0, 1.0), logits,
                   torch.tensor([[-1.0, 0.0, -3.0, 0.0]]))
    check_filtered(call("presence_frequency_penalty", logits, generated, -0.5, -2.0), logits,
                   torch.tensor([[2.5, 0.0, 6.5, 0.0]]))
    check_filtered(call("presence_frequency_penalty", logits, torch.zeros(1, 0, dtype=torch.long), 1.0, 1.0),
                   logits, logits)


@pytest.mark.task("t02_presence_frequency")
@pytest.mark.parametrize("seed", range(4))
def test_presence_frequency_on_random_batches(seed):
    logits = random_logits(seed, batch=3, vocab=10)
    generated = random_ids(seed, 3, 9, 10)
    pres, freq = [(0.3, 0.7), (-1.0, 0.5), (2.0, -2.0), (0.0, 1.5)][seed]
    expected = logits.clone()
    for b in range(3):
        for j in range(10):
            c = generated[b].tolist().count(j)
            expected[b, j] -= c * freq + (pres if c > 0 else 0.0)
    check_filtered(call("presence_frequency_penalty", logits, generated, pres, freq), logits, expected)
    out = call("presence_frequency_penalty", logits.half(), generated, pres, freq)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), expected, rtol=2e-3, atol=1e-2)


@pytest.mark.task("t02_presence_frequency")
@pytest.mark.parametrize("pres,freq", [(INF, 0.0), (0.0, math.nan), ("1", 0.0), (0.0, None), (True, 0.0)])
def test_presence_frequency_rejects_bad_penalties(pres, freq):
    rejects("presence_frequency_penalty", random_logits(0), random_ids(0, 4, 3, 30), pres, freq)


@pytest.mark.task("t02_presence_frequency")
def test_presence_frequency_checks_shapes_and_does_not_mutate():
    logits = random_logits(0)
    rejects("presence_frequency_penalty", logits, random_ids(0, 2, 3, 30), 0.5, 0.5)
    rejects("presence_frequency_penalty", logits, random_ids(0, 4, 3, 30).float(), 0.5, 0.5)
    assert_does_not_mutate("processors.presence_frequency_penalty", logits, random_ids(0, 4, 3, 30),
                0.5, 0.5)


# ---- t02_no_repeat_ngram -----------------------------------------------------------------------------------

@pytest.mark.task("t02_no_repeat_ngram")
@pytest.mark.parametrize("n,tokens,banned", [
    (2, [1, 2, 3, 1], {2}),
    (2, [1, 2, 1, 3, 1], {2, 3}),
    (3, [1, 2, 3, 1, 2], {3}),
    (3, [1, 2, 3, 1, 3], set()),
    (3, [5, 5, 5], {5}),
    (4, [1, 2, 1, 2], set()),
    (1, [1, 4, 4], {1, 4}),
    (2, [1], set()),
    (3, [0, 1, 2, 0, 1, 4, 6, 0, 1], {2, 4}),
])
def test_no_repeat_ngram_by_hand(n, tokens, banned):
    logits = torch.arange(8.0).expand(2, 8).contiguous()
    ids = torch.tensor([tokens, [7] * len(tokens)])  # the second row bans only what its own tokens imply
    out = call("no_repeat_ngram", logits, ids, n)
    expected = logits.clone()
    expected[0, sorted(banned)] = -INF
    if len(tokens) >= n:
        expected[1, 7] = -INF
    check_filtered(out, logits, expected)


@pytest.mark.task("t02_no_repeat_ngram")
@pytest.mark.parametrize("seed", range(6))
def test_no_repeat_ngram_equals_transformers(seed):
    logits = random_logits(seed, batch=4, vocab=10, neg_inf=seed == 0)
    if seed == 5:
        logits = logits.half()
    ids = random_ids(seed, 4, [3, 8, 15, 30][seed % 4], 10)
    for n in [1, 2, 3, 4]:
        expected = NoRepeatNGramLogitsProcessor(n)(ids, logits)
        check_filtered(call("no_repeat_ngram", logits, ids, n), logits, expected)


@pytest.mark.task("t02_no_repeat_ngram")
def test_no_repeat_ngram_validation_and_no_mutation():
    logits, ids = random_logits(0, vocab=10), random_ids(0, 4, 6, 10)
    for bad in [0, -1, 2.0, None, True]:
        rejects("no_repeat_ngram", logits, ids, bad)
    rejects("no_repeat_ngram", logits, ids[:2], 2)
    assert_does_not_mutate("processors.no_repeat_ngram", logits, ids, 2)


# ---- t02_length_penalty ------------------------------------------------------------------------------------

@pytest.mark.task("t02_length_penalty")
def test_length_penalties_by_hand():
    gnmt, hf = zip(*call("length_penalties", [1, 7, 4, 10], 0.5))
    assert gnmt == pytest.approx([1.0, math.sqrt(2.0), math.sqrt(1.5), math.sqrt(2.5)])
    assert hf == pytest.approx([1.0, math.sqrt(7.0), 2.0, math.sqrt(10.0)])
    gnmt, hf = zip(*call("length_penalties", [3, 20], 0.0))
    assert gnmt == pytest.approx([1.0, 1.0]) and hf == pytest.approx([1.0, 1.0])


@pytest.mark.task("t02_length_penalty")
@pytest.mark.parametrize("alpha", [0.6, 0.7, 1.0, 2.0, -1.0])
def test_length_penalties_follow_the_formulas(alpha):
    lengths = [1, 2, 5, 13, 50]
    values = call("length_penalties", lengths, alpha)
    for n, (gnmt, hf) in zip(lengths, values):
        assert gnmt == pytest.approx((5 + n) ** alpha / (5 + 1) ** alpha, rel=1e-6)  # the lecture's formula
        assert hf == pytest.approx(n ** alpha, rel=1e-6)                              # transformers' beam search


# ---- t02_pipeline ------------------------------------------------------------------------------------------

def transformers_chain(logits, input_ids, prompt_length, repetition_penalty=1.0, no_repeat_ngram_size=0,
                       presence_penalty=0.0, frequency_penalty=0.0, temperature=1.0, top_k=None, top_p=1.0):
    """transformers' processors in _get_logits_processor's order, with OpenAI's presence/frequency penalties
    (written out here from their formula) after the other penalties."""
    scores = logits
    if repetition_penalty != 1.0:
        scores = RepetitionPenaltyLogitsProcessor(repetition_penalty)(input_ids, scores)
    if no_repeat_ngram_size:
        scores = NoRepeatNGramLogitsProcessor(no_repeat_ngram_size)(input_ids, scores)
    if presence_penalty or frequency_penalty:
        generated = input_ids[:, prompt_length:]
        counts = torch.stack([torch.bincount(row, minlength=scores.shape[1]) for row in generated]).to(scores.dtype)
        scores = scores - counts * frequency_penalty - (counts > 0).to(scores.dtype) * presence_penalty
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    return warpers(input_ids, scores)


PIPELINES = [
    dict(temperature=0.7, top_k=10, top_p=0.9),
    dict(repetition_penalty=1.3, no_repeat_ngram_size=2, temperature=0.7, top_k=10, top_p=0.9),
    dict(repetition_penalty=0.8, temperature=1.5, top_p=0.6),
    dict(presence_penalty=0.5, frequency_penalty=0.3, temperature=0.5, top_k=5),
    dict(repetition_penalty=1.2, no_repeat_ngram_size=3, presence_penalty=-0.4, frequency_penalty=0.8,
         temperature=1.7, top_k=15, top_p=0.8),
    dict(top_k=3, top_p=0.5),
    dict(no_repeat_ngram_size=1),
    dict(),
]


@pytest.mark.task("t02_pipeline")
@pytest.mark.parametrize("settings", PIPELINES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()) or "none")
@pytest.mark.parametrize("seed", range(3))
def test_pipeline_equals_transformers_chain(settings, seed):
    logits = random_logits(seed, batch=4, vocab=24)
    input_ids = random_ids(seed, 4, 12, 24)
    prompt_length = [0, 5, 12][seed]
    out = call("process_logits", logits, input_ids, prompt_length, **settings)
    check_filtered(out, logits, transformers_chain(logits, input_ids, prompt_length, **settings))


@pytest.mark.task("t02_pipeline")
def test_pipeline_applies_top_k_before_top_p():
    """Top-p sees the logits left by top-k: of [.5, .25, .15, .1], top-2 leaves [2/3, 1/3], whose top-0.6 is
    one token; applied the other way round, top-0.6 keeps two tokens and top-2 keeps them both."""
    logits = torch.tensor([[0.5, 0.25, 0.15, 0.1]]).log()
    out = call("process_logits", logits, torch.zeros(1, 0, dtype=torch.long), 0, top_k=2, top_p=0.6)
    assert torch.isneginf(out).tolist() == [[False, True, True, True]]


@pytest.mark.task("t02_pipeline")
def test_pipeline_applies_temperature_before_top_p_and_after_the_penalties():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    # at T=1 the top-0.7 set is 2 tokens (.64 + .24 > .7); at T=0.5 the first token alone has .86 > .7
    out = call("process_logits", logits, torch.zeros(1, 0, dtype=torch.long), 0, temperature=0.5, top_p=0.7)
    assert torch.isneginf(out).tolist() == [[False, True, True, True]]
    # presence/frequency subtract before dividing by T: (2 - 1) / 0.5 = 2, not 2 / 0.5 - 1 = 3
    out = call("process_logits", logits, torch.tensor([[3, 0]]), 1, presence_penalty=1.0, temperature=0.5)
    check_filtered(out, logits, torch.tensor([[2.0, 2.0, 0.0, -2.0]]))


@pytest.mark.task("t02_pipeline")
def test_pipeline_counts_only_generated_tokens_for_presence_and_frequency():
    logits = torch.zeros(1, 4)
    input_ids = torch.tensor([[1, 1, 1, 2, 3, 3]])  # prompt [1, 1, 1], generated [2, 3, 3]
    out = call("process_logits", logits, input_ids, 3, presence_penalty=1.0, frequency_penalty=0.5)
    check_filtered(out, logits, torch.tensor([[0.0, 0.0, -1.5, -2.0]]))


@pytest.mark.task("t02_pipeline")
def test_pipeline_top_k_none_means_no_top_k_and_returns_a_new_tensor():
    logits = random_logits(0, vocab=100)
    out = call("process_logits", logits, torch.zeros(4, 0, dtype=torch.long), 0)
    check_filtered(out, logits, logits)
    assert_does_not_mutate("processors.process_logits", logits, random_ids(0, 4, 5, 100), 2,
                repetition_penalty=1.5, no_repeat_ngram_size=2, presence_penalty=0.5, frequency_penalty=0.5,
                temperature=0.5, top_k=10, top_p=0.9)


@pytest.mark.task("t02_pipeline")
@pytest.mark.parametrize("bad", [dict(temperature=0.0), dict(top_k=0), dict(top_p=1.5), dict(repetition_penalty=-1.0),
                                 dict(no_repeat_ngram_size=-1), dict(prompt_length=9), dict(prompt_length=-1)])
def test_pipeline_rejects_bad_arguments(bad):
    kwargs = dict(bad)
    prompt_length = kwargs.pop("prompt_length", 2)
    rejects("process_logits", random_logits(0), random_ids(0, 4, 5, 30), prompt_length, **kwargs)
