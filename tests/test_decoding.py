"""Notebook 01: decoding strategies (greedy, sampling, top-k, top-p). Beam search is tested on models in
test_full_generate.py.

Expected values come from transformers' own logits warpers (TopKLogitsWarper, TopPLogitsWarper), from
torch.multinomial (what transformers samples with), or from small cases worked out by hand."""
import pytest
import torch
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from tests.adapters import call
from tests.asserts import assert_does_not_mutate, assert_tensor, assert_tensor_equal
from tests.logits_cases import INF, TOP_PS, check_filtered, nucleus_logits, random_logits


# ---- t01_greedy ----------------------------------------------------------------------------------------

@pytest.mark.task("t01_greedy")
def test_greedy_picks_the_largest_logit_lowest_index_on_ties():
    logits = torch.tensor([[0.1, 2.0, -1.0, 1.9],
                           [3.0, 3.0, 1.0, 3.0],     # three-way tie: the lowest index wins
                           [-INF, -5.0, -INF, -7.0],
                           [-1.0, -1.0, -1.0, -1.0]])
    assert_tensor_equal(call("greedy", logits), torch.tensor([1, 0, 1, 0]), "greedy(logits) of 4 rows")


@pytest.mark.task("t01_greedy")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
def test_greedy_on_a_batch(dtype):
    logits = random_logits(1, batch=6, vocab=50, ties=True).to(dtype)
    out = call("greedy", logits)
    assert_tensor(out, torch.int64, (6,), "greedy(logits) of shape (6, 50)")
    for i, (row, token) in enumerate(zip(logits, out.tolist())):
        assert row[token] == row.max(), f"row {i}: token {token} does not have the largest logit"
        assert (row[:token] < row.max()).all(), f"row {i}: an index before {token} has the same largest logit"


@pytest.mark.task("t01_greedy")
@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(2, 3, 4), torch.zeros(2, 5, dtype=torch.long)])
def test_greedy_rejects_logits_that_are_not_a_float_batch(bad):
    result = call("raises", "decoding.greedy", bad)
    assert result is not None and result[0] == "ValueError", \
        f"greedy(logits of shape {tuple(bad.shape)}, {bad.dtype}) must raise ValueError, got {result}"


# ---- t01_sample ----------------------------------------------------------------------------------------

@pytest.mark.task("t01_sample")
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sample_draws_like_torch_multinomial(seed):
    """transformers samples with torch.multinomial(softmax(scores), 1) over the batch; so must we."""
    logits = random_logits(10 + seed, batch=8, vocab=40, neg_inf=seed % 2 == 1)
    expected = torch.multinomial(torch.softmax(logits, dim=-1), 1,
                                 generator=torch.Generator().manual_seed(seed)).squeeze(1)
    assert_tensor_equal(call("sample", logits, seed), expected, f"sample(logits, seed {seed}) vs torch.multinomial")


@pytest.mark.task("t01_sample")
def test_sample_follows_the_probabilities_and_never_draws_minus_inf():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05, 0.0])
    logits = probs.log().expand(4000, 5).contiguous()  # 4000 independent draws from one distribution
    out = call("sample", logits, 7)
    assert_tensor(out, torch.int64, (4000,), "sample(logits of shape (4000, 5))")
    counts = torch.bincount(out, minlength=5).double() / 4000
    assert counts[4] == 0, "a token of probability 0 (logit -inf) was drawn"
    # 4000 draws: each frequency is within 4 standard deviations of its probability
    p = probs.double()
    assert ((counts - p).abs() <= 4 * (p * (1 - p) / 4000).sqrt() + 1e-9).all(), \
        f"frequencies {counts.tolist()} do not match probabilities {probs.tolist()}"


@pytest.mark.task("t01_sample")
def test_sample_is_reproducible_with_the_same_seed_and_varies_with_the_seed():
    logits = torch.zeros(16, 100)
    assert_tensor_equal(call("sample", logits, 5), call("sample", logits, 5), "sample with seed 5, drawn twice")
    assert not torch.equal(call("sample", logits, 5), call("sample", logits, 6)), \
        "seeds 5 and 6 drew the same 16 tokens out of 100 equally likely ones: is the generator used?"


# ---- t01_top_k -----------------------------------------------------------------------------------------

@pytest.mark.task("t01_top_k")
def test_top_k_keeps_ties_with_the_kth_value():
    logits = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    out = call("top_k_filter", logits, 2)
    check_filtered(out, logits, torch.tensor([[3.0, -INF, 2.0, 2.0, -INF]]))


@pytest.mark.task("t01_top_k")
def test_top_k_by_hand():
    logits = torch.tensor([[0.4, 0.3, 0.2, 0.05, 0.06],
                           [-1.0, -3.0, -2.0, -INF, 5.0],
                           [-INF, -INF, 1.0, -INF, -INF]])   # fewer finite logits than k: nothing more to remove
    expected = torch.tensor([[0.4, 0.3, 0.2, -INF, -INF],
                             [-1.0, -INF, -2.0, -INF, 5.0],
                             [-INF, -INF, 1.0, -INF, -INF]])
    check_filtered(call("top_k_filter", logits, 3), logits, expected)
    check_filtered(call("top_k_filter", logits, 9), logits, logits)  # k > V keeps everything
    # min_tokens_to_keep raises k
    check_filtered(call("top_k_filter", logits, 1, min_tokens_to_keep=3), logits, expected)


@pytest.mark.task("t01_top_k")
@pytest.mark.parametrize("seed", range(12))
def test_top_k_equals_transformers(seed):
    """Many random batches: ties, -inf entries, k > V, min_tokens_to_keep > 1, float16."""
    vocab = [5, 17, 30, 64][seed % 4]
    logits = random_logits(seed, batch=5, vocab=vocab, ties=seed % 2 == 0, neg_inf=seed % 3 == 0)
    if seed % 4 == 3:
        logits = logits.half()
    for k in [1, 2, 3, vocab // 2 + 1, vocab, vocab + 3]:
        for mtk in [1, 4]:
            expected = TopKLogitsWarper(k, min_tokens_to_keep=mtk)(None, logits)
            check_filtered(call("top_k_filter", logits, k, min_tokens_to_keep=mtk), logits, expected)


@pytest.mark.task("t01_top_k")
def test_top_k_does_not_modify_its_input():
    assert_does_not_mutate("decoding.top_k_filter", random_logits(3), 3)


@pytest.mark.task("t01_top_k")
@pytest.mark.parametrize("k,mtk", [(0, 1), (-1, 1), (2.0, 1), ("3", 1), (None, 1), (2, 0), (2, 1.5)])
def test_top_k_rejects_bad_arguments(k, mtk):
    result = call("raises", "decoding.top_k_filter", random_logits(0), k, min_tokens_to_keep=mtk)
    assert result is not None and result[0] == "ValueError", f"top_k_filter(k={k!r}, mtk={mtk!r}): {result}"


# ---- t01_top_p -----------------------------------------------------------------------------------------

@pytest.mark.task("t01_top_p")
@pytest.mark.parametrize("probs,p,kept", [
    ([0.5, 0.3, 0.2], 0.8, [0, 1]),           # the prefix reaching p exactly stops there
    ([0.5, 0.3, 0.2], 0.81, [0, 1, 2]),
    ([0.5, 0.3, 0.2], 0.5, [0]),
    ([0.5, 0.3, 0.2], 0.6, [0, 1]),           # the token that crosses p is kept
    ([0.1, 0.2, 0.3, 0.4], 0.7, [2, 3]),
    ([0.1, 0.2, 0.3, 0.4], 0.9, [1, 2, 3]),
    ([0.2, 0.5, 0.3], 0.0, [1]),              # p = 0 keeps the most likely token
    ([0.2, 0.5, 0.3], 1.0, [0, 1, 2]),
])
def test_top_p_by_hand(probs, p, kept):
    logits = torch.tensor([probs]).log()
    out = call("top_p_filter", logits, p)
    expected = torch.full_like(logits, -INF)
    expected[0, kept] = logits[0, kept]
    check_filtered(out, logits, expected)


@pytest.mark.task("t01_top_p")
def test_top_p_on_exact_dyadic_probabilities():
    """Probabilities .5, .25, .25 are exact in floating point: with p = .75 the two most likely tokens already
    reach p, so only they are kept; and of four equal tokens, p = .5 keeps exactly two."""
    out = call("top_p_filter", torch.tensor([[0.5, 0.25, 0.25]]).log(), 0.75)
    assert (~torch.isneginf(out)).sum().item() == 2
    out = call("top_p_filter", torch.zeros(3, 4), 0.5)
    assert (~torch.isneginf(out)).sum(-1).tolist() == [2, 2, 2]


@pytest.mark.task("t01_top_p")
def test_top_p_min_tokens_to_keep():
    logits = torch.tensor([[0.05, 0.9, 0.03, 0.02]]).log()
    out = call("top_p_filter", logits, 0.5, min_tokens_to_keep=3)
    assert torch.isneginf(out).tolist() == [[False, False, False, True]]
    out = call("top_p_filter", logits, 0.0, min_tokens_to_keep=2)
    assert torch.isneginf(out).tolist() == [[False, False, True, True]]


@pytest.mark.task("t01_top_p")
@pytest.mark.parametrize("seed", range(10))
def test_top_p_equals_transformers(seed):
    """Random batches with -inf entries, min_tokens_to_keep > 1, p in {0, 1} and float16."""
    vocab = [6, 20, 50, 100, 13][seed % 5]
    if seed % 5 in (0, 4):
        logits = nucleus_logits(seed, batch=4, vocab=vocab, dtype=torch.float16, margin=1e-2, neg_inf=seed % 2 == 1)
    else:
        logits = nucleus_logits(seed, batch=4, vocab=vocab, neg_inf=seed % 2 == 1)
    for p in [0.0, *TOP_PS, 1.0]:
        for mtk in [1, 3]:
            expected = TopPLogitsWarper(p, min_tokens_to_keep=mtk)(None, logits)
            check_filtered(call("top_p_filter", logits, p, min_tokens_to_keep=mtk), logits, expected)


@pytest.mark.task("t01_top_p")
def test_top_p_does_not_modify_its_input():
    assert_does_not_mutate("decoding.top_p_filter", random_logits(4), 0.7)


@pytest.mark.task("t01_top_p")
@pytest.mark.parametrize("p,mtk", [(-0.1, 1), (1.5, 1), ("0.5", 1), (None, 1), (0.5, 0), (0.5, 2.0)])
def test_top_p_rejects_bad_arguments(p, mtk):
    result = call("raises", "decoding.top_p_filter", random_logits(0), p, min_tokens_to_keep=mtk)
    assert result is not None and result[0] == "ValueError", f"top_p_filter(p={p!r}, mtk={mtk!r}): {result}"
