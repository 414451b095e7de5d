"""Hidden tests of t02_pipeline: process_logits applies repetition penalty -> no_repeat_ngram ->
presence/frequency (generated tokens only) -> temperature -> top-k -> top-p, skipping neutral values.

The pipeline is graded on its order and wiring: a result passes when it equals the reference chain, or the
chain of the submission's own processors (each called on its own) in the same order, so that a bug inside
one processor is graded once, in that processor's task."""
import pytest
import torch

from llmlab.processors import process_logits as reference
from tests.adapters import call, does_not_mutate
from tests.logits_cases import check_filtered, random_logits, random_token_ids

pytestmark = pytest.mark.task("t02_pipeline")

PROMISES = {
    "order": "repetition_penalty -> no_repeat_ngram -> presence/frequency -> temperature -> top_k -> top_p",
    "neutral": "Each step is skipped at its neutral value",
    "top_p_one": "top_p=1.0 does not even remove tokens of probability 0",
    "top_k_none": "top_k=None means no top-k",
    "whole_sequence": "The repetition penalty and no_repeat_ngram look at all of input_ids (prompt and generated "
                      "tokens)",
    "generated_only": "presence/frequency only at the generated tokens, input_ids[:, prompt_length:]",
    "new_tensor": "A new (B, V) tensor of the same dtype, even when every step is skipped.",
    "no_mutation": "never modifies its inputs",
    "validation": "Raises ValueError (naming the argument and its value) for an invalid argument, as each function "
                  "does; also when prompt_length is not an int in [0, L] or no_repeat_ngram_size is negative.",
}


def own_chain(logits, input_ids, prompt_length, repetition_penalty=1.0, no_repeat_ngram_size=0,
              presence_penalty=0.0, frequency_penalty=0.0, temperature=1.0, top_k=None, top_p=1.0):
    """The submission's own processors chained in transformers' order, or None if one of them fails."""
    try:
        x = logits
        if repetition_penalty != 1.0:
            x = call("repetition_penalty", x, input_ids, repetition_penalty)
        if no_repeat_ngram_size:
            x = call("no_repeat_ngram", x, input_ids, no_repeat_ngram_size)
        if presence_penalty or frequency_penalty:
            x = call("presence_frequency_penalty", x, input_ids[:, prompt_length:], presence_penalty, frequency_penalty)
        if temperature != 1.0:
            x = call("apply_temperature", x, temperature)
        if top_k is not None:
            x = call("top_k_filter", x, top_k)
        if top_p != 1.0:
            x = call("top_p_filter", x, top_p)
        return x if isinstance(x, torch.Tensor) and x.shape == logits.shape else None
    except Exception:  # noqa: BLE001 - a failing processor is graded in its own task
        return None


def matches(out, expected):
    try:
        check_filtered(out, expected, expected, rtol=1e-5, atol=1e-5)
        return True
    except AssertionError:
        return False


def check(logits, input_ids, prompt_length, **settings):
    out = call("process_logits", logits, input_ids, prompt_length, **settings)
    assert isinstance(out, torch.Tensor), f"process_logits must return a tensor, got {type(out).__name__}"
    assert out.shape == logits.shape and out.dtype == logits.dtype, "keep the logits' shape and dtype"
    if matches(out, reference(logits, input_ids, prompt_length, **settings)):
        return
    own = own_chain(logits, input_ids, prompt_length, **settings)
    assert own is not None and matches(out, own), \
        f"process_logits(..., prompt_length={prompt_length}, {settings}) is not the chain in transformers' order"


SETTINGS = [
    dict(temperature=0.6, top_p=0.8),
    dict(top_k=4, top_p=0.7),
    dict(top_k=6, top_p=0.5, temperature=1.8),
    dict(presence_penalty=0.8, frequency_penalty=0.4, temperature=0.5),
    dict(repetition_penalty=1.4, presence_penalty=-0.6, frequency_penalty=0.9, temperature=2.0, top_k=8),
    dict(repetition_penalty=1.3, no_repeat_ngram_size=2, temperature=0.7, top_k=10, top_p=0.9),
    dict(no_repeat_ngram_size=3, frequency_penalty=1.0),
    dict(repetition_penalty=0.7, no_repeat_ngram_size=1, top_p=0.95),
    dict(),
]


@pytest.mark.promise("order", "neutral", weight=5)
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()) or "none")
def test_chain_in_transformers_order(settings):
    for seed, prompt_length in [(800, 4), (801, 0)]:
        logits = random_logits(seed, batch=4, vocab=60, scale=2.0)
        check(logits, random_token_ids(seed, 4, 10, 60, distinct=12), prompt_length, **settings)


@pytest.mark.promise("order", weight=1)
def test_top_k_then_top_p_and_temperature_before_top_p():
    no_ids = torch.zeros(1, 0, dtype=torch.long)
    out = call("process_logits", torch.tensor([[0.5, 0.25, 0.15, 0.1]]).log(), no_ids, 0, top_k=2, top_p=0.6)
    assert torch.isneginf(out).tolist() == [[False, True, True, True]], "top-p must see the logits left by top-k"
    out = call("process_logits", torch.tensor([[2.0, 1.0, 0.0, -1.0]]), no_ids, 0, temperature=0.5, top_p=0.7)
    assert torch.isneginf(out).tolist() == [[False, True, True, True]], "top-p must see the logits after temperature"


@pytest.mark.promise("generated_only", "order", weight=1.5)
def test_presence_frequency_count_only_generated_tokens_before_temperature():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    ids = torch.tensor([[0, 0, 3, 1, 1, 2]])  # prompt [0, 0, 3], generated [1, 1, 2]
    out = call("process_logits", logits, ids, 3, presence_penalty=1.0, frequency_penalty=0.5, temperature=0.5)
    check_filtered(out, logits, torch.tensor([[2.0, (2.0 - 1.0 - 1.0) / 0.5, (3.0 - 0.5 - 1.0) / 0.5, 8.0]]))


@pytest.mark.promise("top_k_none", "top_p_one", "whole_sequence", weight=1)
def test_top_k_none_is_off_and_penalties_see_the_whole_sequence():
    logits = random_logits(810, batch=2, vocab=120)
    check_filtered(call("process_logits", logits, torch.zeros(2, 0, dtype=torch.long), 0), logits, logits)
    ids = torch.tensor([[5, 6, 5, 7], [1, 2, 3, 1]])
    check(logits, ids, 4, repetition_penalty=2.0, no_repeat_ngram_size=2)


@pytest.mark.promise("new_tensor", "no_mutation", weight=1)
def test_float16_and_no_mutation():
    logits = random_logits(820, batch=3, vocab=30, scale=2.0).half()
    check(logits, random_token_ids(820, 3, 6, 30), 2, repetition_penalty=1.2, temperature=0.8, top_k=12)
    assert does_not_mutate("processors.process_logits", random_logits(821, vocab=30),
                random_token_ids(821, 4, 8, 30), 3, repetition_penalty=1.5, no_repeat_ngram_size=2,
                presence_penalty=0.5, frequency_penalty=0.5, temperature=0.5, top_k=10, top_p=0.9) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("bad", [dict(temperature=0.0), dict(top_k=0), dict(top_p=1.2), dict(repetition_penalty=0.0),
                                 dict(no_repeat_ngram_size=-1), dict(prompt_length=11), dict(prompt_length=-1)])
def test_rejects_invalid_arguments(bad):
    kwargs = dict(bad)
    prompt_length = kwargs.pop("prompt_length", 3)
    result = call("raises", "processors.process_logits", random_logits(830, vocab=20), random_token_ids(830, 4, 10, 20),
                  prompt_length, **kwargs)
    assert result is not None and result[0] == "ValueError", f"process_logits({bad}) should raise ValueError"


@pytest.mark.promise("new_tensor", "top_p_one", weight=0.5)
def test_every_step_skipped_still_returns_a_new_tensor():
    """process_logits(logits, ids, 2) with every setting neutral returns a new tensor equal to the logits (-inf
    entries kept, finite logits of probability 0 too), and the logits are unchanged."""
    logits = random_logits(840, batch=2, vocab=16, neg_inf=True)
    logits[0, :3] = torch.tensor([100.0, -200.0, 0.0])   # -200 has probability 0 in float32, yet stays
    ids = random_token_ids(840, 2, 5, 16)
    out = call("process_logits", logits, ids, 2)
    check_filtered(out, logits, logits, rtol=0, atol=0)
    assert does_not_mutate("processors.process_logits", logits, ids, 2) is True
