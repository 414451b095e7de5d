"""Hidden tests of t01_top_k: transformers' TopKLogitsWarper semantics (ties with the k-th value kept, k > V,
-inf entries, min_tokens_to_keep), a new tensor of the input's dtype, and argument validation."""
import pytest
import torch

from llmlab.decoding import top_k_filter as reference
from tests.adapters import call, does_not_mutate
from tests.asserts import assert_value_error_names
from tests.logits_cases import INF, check_filtered, random_logits

pytestmark = pytest.mark.task("t01_top_k")

PROMISES = {
    "rule": "remove every logit strictly smaller than the k'-th largest of its row",
    "ties": "ties with the k'-th largest are all kept (more than k tokens may survive)",
    "k_over_v": "k > V keeps everything",
    "minus_inf": "logits that are already -inf stay -inf",
    "min_tokens_to_keep": "min_tokens_to_keep: an int >= 1; k is raised to at least this.",
    "dtype": "A new (B, V) tensor of the same dtype",
    "no_mutation": "the input is not modified.",
    "validation": "Raises ValueError (naming the argument and its value) when k is not an int > 0 or "
                  "min_tokens_to_keep is not an int >= 1, and when logits is not a 2-D float tensor.",
}


def check(logits, k, mtk=1):
    out = call("top_k_filter", logits, k, min_tokens_to_keep=mtk)
    check_filtered(out, logits, reference(logits, k, min_tokens_to_keep=mtk), rtol=0, atol=0)


@pytest.mark.promise("ties", weight=1)
def test_ties_with_the_kth_value_are_all_kept():
    logits = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0], [5.0, 4.0, 4.0, 4.0, 4.0]])
    out = call("top_k_filter", logits, 2)
    check_filtered(out, logits, torch.tensor([[3.0, -INF, 2.0, 2.0, -INF], [1.0, 1.0, 1.0, 1.0, -INF],
                                              [5.0, 4.0, 4.0, 4.0, 4.0]]), rtol=0, atol=0)


@pytest.mark.promise("rule", "k_over_v", "minus_inf", "dtype", weight=5)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_random_batches(dtype):
    for seed in range(4):
        vocab = [6, 25, 64, 7][seed]
        logits = random_logits(200 + seed, batch=5, vocab=vocab, ties=seed % 2 == 0, neg_inf=seed >= 2).to(dtype)
        for k in [1, 3, vocab - 1, vocab, vocab + 5]:
            check(logits, k)


@pytest.mark.promise("min_tokens_to_keep", weight=0.75)
def test_min_tokens_to_keep_raises_k():
    logits = random_logits(210, batch=3, vocab=12)
    for k, mtk in [(1, 3), (2, 5), (4, 2), (3, 20)]:
        check(logits, k, mtk)


@pytest.mark.promise("minus_inf", weight=0.5)
def test_fewer_finite_logits_than_k():
    logits = torch.tensor([[-INF, 2.0, -INF, -INF, 1.0, -INF]])
    check(logits, 4)


@pytest.mark.promise("no_mutation", weight=1)
def test_does_not_modify_its_input():
    assert does_not_mutate("decoding.top_k_filter", random_logits(220), 2) is True


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("k,mtk", [(0, 1), (-2, 1), (2.5, 1), ("2", 1), (None, 1), (True, 1), (2, 0), (2, -1)])
def test_rejects_bad_arguments(k, mtk):
    result = call("raises", "decoding.top_k_filter", random_logits(230), k, min_tokens_to_keep=mtk)
    assert result is not None and result[0] == "ValueError", f"top_k_filter(k={k!r}, min_tokens_to_keep={mtk!r})"


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """top_k_filter(logits, -2) and top_k_filter(logits, 2, min_tokens_to_keep=0): the ValueError's message
    names the argument and its value."""
    assert_value_error_names("decoding.top_k_filter", "k", -2, random_logits(231), -2)
    assert_value_error_names("decoding.top_k_filter", "min_tokens_to_keep", 0, random_logits(231), 2,
                             min_tokens_to_keep=0)
    result = call("raises", "decoding.top_k_filter", torch.zeros(3, 4, dtype=torch.long), 2)
    assert result is not None and result[0] == "ValueError", "integer logits must raise ValueError"
