"""Hidden tests of t01_beam_search: transformers' beam search (2*num_beams candidates per step, EOS candidates
finish only when ranked among the first num_beams, scores divided by gen_len ** length_penalty with gen_len
the generated tokens including EOS, early stopping True / False / "never", hypotheses best first), on small
random Llamas with an EOS token the model likes. The reference beam_search equals transformers' generate
(tests/test_full_generate.py), so expected values come from it."""
from functools import lru_cache

import pytest
import torch

from llmlab.decoding import beam_search as reference
from tests.adapters import call, model_spec
from tests.random_llama import bigram_llama, random_ids, random_llama

pytestmark = pytest.mark.task("t01_beam_search")

PROMISES = {
    "score": "The score of a sequence is the sum of the log-probabilities of its generated tokens.",
    "log_softmax": "take log_softmax of the last position's logits (in float32) and add the beam's running score",
    "candidates": "Take the 2 * num_beams best (beam, token) candidates over all beams, best first",
    "finished": "A candidate whose token is `eos_token_id`, or that reaches max_new_tokens generated tokens, is "
                "finished.",
    "eos_rank": "It becomes a hypothesis only if it ranks among the first num_beams candidates (others are dropped)",
    "penalised": "with the score `score / gen_len ** length_penalty`, where gen_len counts its generated tokens "
                 "including the EOS (not the prompt)",
    "keep_best": "Keep the num_beams best hypotheses.",
    "running": "The next running beams are the num_beams best unfinished candidates, ranked by their raw score.",
    "max_steps": "Stop after max_new_tokens steps",
    "early_true": "early_stopping=True: always;",
    "early_false": "early_stopping=False: if the best running beam's score / gen_len ** length_penalty (gen_len: "
                   "its generated tokens so far) is <= the worst kept hypothesis' score;",
    "early_never": "early_stopping=\"never\": the same test, but with gen_len = max_new_tokens when "
                   "length_penalty > 0",
    "no_eos": "eos_token_id: the end-of-sequence token id, or None.",
    "length_penalty": "length_penalty: the exponent alpha above: > 0 favours long sequences, 0 compares raw sums, "
                      "1 (default) compares mean log-probabilities.",
    "num_return_sequences": "num_return_sequences: how many hypotheses to return",
    "output": "a list of num_return_sequences 1-D int64 tensors (prompt + generated tokens, the EOS included "
              "when hit, no padding) and a float32 tensor of their scores",
    "best_first": "best first;",
    "validation": "Raises ValueError for invalid arguments (naming the argument and its value).",
}


@lru_cache(maxsize=None)
def case(name, seed, prompt_length=4):
    """(model, its spec, prompt, an EOS token): the EOS is the most frequent token of a beam search without
    one, so that hypotheses really end early."""
    model = random_llama(name, seed=seed)
    input_ids = random_ids(model.config.vocab_size, 1, prompt_length, seed=seed)
    sequences, _ = reference(model, input_ids, 4, 8, num_return_sequences=4)
    generated = torch.cat([s[prompt_length:] for s in sequences])
    return model, model_spec(model), input_ids, int(generated.mode().values)


def check(name, seed, num_beams, max_new_tokens, **settings):
    model, spec, input_ids, eos = case(name, seed)
    settings.setdefault("eos_token_id", eos)
    expected_sequences, expected_scores = reference(model, input_ids, num_beams, max_new_tokens, **settings)
    result = call("beam_search", spec, input_ids, num_beams=num_beams, max_new_tokens=max_new_tokens, **settings)
    assert isinstance(result, (tuple, list)) and len(result) == 2, "beam_search returns (sequences, scores)"
    sequences, scores = result
    n = settings.get("num_return_sequences", 1)
    assert isinstance(sequences, list) and len(sequences) == n, f"expected a list of {n} sequences"
    for s in sequences:
        assert isinstance(s, torch.Tensor) and s.dim() == 1 and s.dtype == torch.int64, \
            "each sequence is a 1-D int64 tensor"
    assert isinstance(scores, torch.Tensor) and scores.dtype == torch.float32 and scores.shape == (n,), \
        f"scores must be a float32 tensor of shape ({n},)"
    got = [s.tolist() for s in sequences]
    want = [s.tolist() for s in expected_sequences]
    assert got == want, f"{settings}: sequences differ"
    torch.testing.assert_close(scores.float(), expected_scores, rtol=1e-5, atol=1e-5,
                               msg=lambda m: f"{settings}: scores differ: {m}")
    return got


@pytest.mark.promise("score", "log_softmax", "candidates", "finished", "penalised", "running", "length_penalty",
                     "early_false", "early_true", "early_never", "num_return_sequences", "output", "best_first",
                     weight=4)
@pytest.mark.parametrize("length_penalty", [-1.0, 0.0, 0.5, 1.0, 2.0])
def test_length_penalty_and_early_stopping(length_penalty):
    for i, early_stopping in enumerate([False, True, "never"]):
        check("gqa_tied", 0, 3, 9, length_penalty=length_penalty, early_stopping=early_stopping,
              num_return_sequences=1 + i)


@pytest.mark.promise("score", "candidates", "running", "max_steps", "num_return_sequences", "output", weight=2)
@pytest.mark.parametrize("name,seed,num_beams,max_new_tokens", [("gqa3_untied", 1, 4, 7), ("mha", 3, 2, 8),
                                                                ("llama3_mqa", 2, 5, 6)])
def test_other_models_and_beam_counts(name, seed, num_beams, max_new_tokens):
    check(name, seed, num_beams, max_new_tokens, num_return_sequences=num_beams)
    check(name, seed, num_beams, max_new_tokens, length_penalty=2.0, early_stopping="never", num_return_sequences=2)
    check(name, seed, num_beams, max_new_tokens, length_penalty=0.0, early_stopping=True)


@pytest.mark.promise("early_true", "early_never", weight=0.5)
def test_early_stopping_changes_the_result():
    """early_stopping True and "never" on random models with an EOS they like."""
    check("gqa3_untied", 1, 3, 6, length_penalty=1.0, early_stopping=True, num_return_sequences=3)
    check("mha", 1, 2, 9, length_penalty=1.0, early_stopping="never", num_return_sequences=2)
    check("mha", 2, 3, 6, length_penalty=1.0, early_stopping="never", num_return_sequences=3)


@pytest.mark.promise("no_eos", "max_steps", weight=0.5)
def test_without_eos_and_one_new_token():
    check("gqa_tied", 5, 3, 6, eos_token_id=None, num_return_sequences=3)
    check("gqa_tied", 5, 4, 1, num_return_sequences=4)


@pytest.mark.promise("finished", "output", weight=0.5)
def test_some_hypotheses_end_with_eos():
    got = check("gqa_tied", 0, 3, 9, length_penalty=0.0, num_return_sequences=3)
    eos = case("gqa_tied", 0)[3]
    assert any(s[-1] == eos and len(s) < 4 + 9 for s in got)


@pytest.mark.promise("eos_rank", weight=0.75)
def test_eos_ranked_below_num_beams_does_not_finish():
    """An EOS candidate ranked below the first num_beams candidates must not become a finished hypothesis."""
    # A hand-designed bigram model, EOS = 1, prompt [0]. Step 1 ranks 2 (p .5), 3 (.3), EOS (.15): EOS is third
    # of 2 * num_beams = 4 candidates, so it does not finish. Later rows put EOS (and 0) far below, so with
    # length_penalty 0 the search is "keep the 2 best paths" and ends with the 2 best 3-token paths.
    ln = torch.tensor([0.15, 0.5, 0.3, 0.04]).log().tolist()
    table = torch.tensor([[-5.0, ln[0], ln[1], ln[2], ln[3], -6.0], [0.0] * 6,
                          [-8, -8, 0.0, 0.6, 0.3, 0.9], [-8, -8, 0.2, 0.0, 0.5, 0.8],
                          [-8, -8, 0.3, 0.9, 0.0, 0.6], [-8, -8, 0.7, 0.1, 0.4, 0.0]])
    logp = table.log_softmax(-1).tolist()
    beams = [(0.0, [0])]
    for _ in range(3):
        candidates = [(score + logp[path[-1]][t], path + [t]) for score, path in beams for t in range(6) if t != 1]
        beams = sorted(candidates, key=lambda c: -c[0])[:2]
    result = call("beam_search", model_spec(bigram_llama(table)), torch.tensor([[0]]), num_beams=2,
                  max_new_tokens=3, eos_token_id=1, length_penalty=0.0, num_return_sequences=2)
    sequences, scores = result
    assert [s.tolist() for s in sequences] == [path for _, path in beams], \
        "an EOS ranked third of 4 candidates with num_beams=2 must not end a hypothesis"
    torch.testing.assert_close(scores.float(), torch.tensor([score for score, _ in beams]), rtol=1e-5, atol=1e-5)


@pytest.mark.promise("early_true", "early_false", "early_never", weight=0.75)
def test_early_stopping_modes_on_a_designed_search():
    """early_stopping: True and False stop once num_beams hypotheses are kept and no running beam can beat them
    at its current length; "never" keeps searching while one could at max_new_tokens."""
    # Bigram model, EOS = 1, prompt [0], num_beams 2, length_penalty 1, max_new_tokens 5.
    # Step 1: EOS (p .5) finishes [0, 1]; 3 (.3) and 2 (.18) run. Step 2: [0, 3, 1] (EOS after 3: .95) finishes,
    # so two hypotheses are kept; the best running beam [0, 2, 4] has raw score r = log .18 + log .97.
    # False/True stop there, since r / 2 is below the worse hypothesis; "never" goes on, since r / 5 is above
    # it, and finds 0 -> 2 -> 4 -> 5 -> 6 -> EOS (each step p .97), better than both.
    u = [0.125] * 8
    probs = torch.tensor([[.005, .5, .18, .3, .004, .003, .002, .006], u,
                          [.005, .004, .003, .002, .97, .006, .005, .005],
                          [.01, .95, .009, .008, .007, .006, .005, .005],
                          [.004, .003, .002, .005, .006, .97, .005, .005],
                          [.004, .003, .002, .005, .006, .005, .97, .005],
                          [.004, .97, .002, .005, .006, .005, .003, .005], u])
    logp = probs.log()
    eos_first, eos_after_3 = logp[0, 1], (logp[0, 3] + logp[3, 1]) / 2
    long_path = (logp[0, 2] + logp[2, 4] + logp[4, 5] + logp[5, 6] + logp[6, 1]) / 5
    r = logp[0, 2] + logp[2, 4]
    assert r / 2 <= eos_first < eos_after_3 < long_path and r / 5 > eos_first  # the reasoning above
    spec = model_spec(bigram_llama(logp))
    stopped = ([[0, 3, 1], [0, 1]], [eos_after_3, eos_first])
    searched = ([[0, 2, 4, 5, 6, 1], [0, 3, 1]], [long_path, eos_after_3])
    for early_stopping, (want, want_scores) in [(False, stopped), (True, stopped), ("never", searched)]:
        sequences, scores = call("beam_search", spec, torch.tensor([[0]]), num_beams=2, max_new_tokens=5,
                                 eos_token_id=1, length_penalty=1.0, early_stopping=early_stopping,
                                 num_return_sequences=2)
        assert [s.tolist() for s in sequences] == want, f"early_stopping={early_stopping!r}: sequences differ"
        torch.testing.assert_close(scores.float(), torch.stack(want_scores), rtol=1e-5, atol=1e-5)


@pytest.mark.promise("validation", weight=0.5)
@pytest.mark.parametrize("bad", [dict(num_beams=0), dict(max_new_tokens=0), dict(num_return_sequences=4),
                                 dict(early_stopping="sometimes")])
def test_rejects_bad_arguments(bad):
    kwargs = {"num_beams": 3, "max_new_tokens": 4, **bad}
    result = call("beam_search_error", case("mha", 3)[1], torch.tensor([[1, 2, 3]]), **kwargs)
    assert result is not None and result[0] == "ValueError", f"beam_search(..., {bad}): {result}"


@pytest.mark.promise("keep_best", "penalised", weight=1)
@pytest.mark.parametrize("early_stopping", [False, "never"])
def test_more_hypotheses_finish_than_num_beams_keep_the_best(early_stopping):
    """Bigram model, EOS = 1, prompt [0], num_beams 2, max_new_tokens 6: a hypothesis finishes at every step, so
    more finish than num_beams and only the best num_beams are kept."""
    # From 0, 2 and 3 the next token is 2 (p .45) or EOS (.4) or 3 (.1); the other rows are uniform. At step k the
    # best candidates are 2...2 (.45^k) and 2...2 EOS (.45^(k-1) * .4): one hypothesis finishes every step, each
    # better (length_penalty 1: mean log-probabilities) than the one before. At step 6 both finish (max_new_tokens).
    p = [0.02, 0.4, 0.45, 0.1, 0.02, 0.01]
    logp = torch.tensor([p, [1 / 6] * 6, p, p, [1 / 6] * 6, [1 / 6] * 6]).log()
    two, eos = logp[2, 2].item(), logp[2, 1].item()
    want = [[0] + [2] * 6, [0] + [2] * 5 + [1]]
    want_scores = torch.tensor([6 * two / 6, (5 * two + eos) / 6])
    sequences, scores = call("beam_search", model_spec(bigram_llama(logp)), torch.tensor([[0]]), num_beams=2,
                             max_new_tokens=6, eos_token_id=1, length_penalty=1.0, early_stopping=early_stopping,
                             num_return_sequences=2)
    assert [s.tolist() for s in sequences] == want, "the kept hypotheses are not the num_beams best"
    torch.testing.assert_close(scores.float(), want_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.promise("validation", weight=0.25)
def test_error_names_the_argument_and_its_value():
    """beam_search(model, ids, num_beams=0, max_new_tokens=4): the ValueError's message names num_beams and 0."""
    result = call("beam_search_error", case("mha", 3)[1], torch.tensor([[1, 2, 3]]), num_beams=0, max_new_tokens=4)
    assert result is not None and result[0] == "ValueError" and "num_beams" in result[1] and "0" in result[1], \
        f"beam_search(num_beams=0): {result}"


@pytest.mark.promise("keep_best", "early_false", weight=0.75)
def test_early_stopping_compares_with_the_worst_kept_hypothesis():
    """early_stopping=False on a designed search where three hypotheses finish: the search stops when the best
    running beam cannot beat the worse of the num_beams kept, not the worst of all that finished."""
    # Bigram model, EOS = 1, prompt [0], num_beams 2, length_penalty 1. Step 1 finishes [0, 1]; step 2 [0, 2, 1];
    # step 3 [0, 3, 5, 1], so the kept two are [0, 3, 5, 1] and [0, 2, 1]. The best running beam [0, 2, 4, 6]
    # (mean log-probability between those of [0, 2, 1] and [0, 1]) cannot beat [0, 2, 1]: the search stops.
    o, u = 0.05 / 6, [1 / 8] * 8
    probs = torch.tensor([[.005, .40, .35, .20, .015, .01, .01, .01], u, [o, .5, o, o, .45, o, o, o],
                          [o, .05, o, o, o, .9, o, o], [.10, .02, .095, .09, .085, .08, .44, .09],
                          [o, .9, o, o, o, o, o, .05], [.01 / 7, .99] + [.01 / 7] * 6, u])
    logp = probs.log()
    kept = [(logp[0, 3] + logp[3, 5] + logp[5, 1]) / 3, (logp[0, 2] + logp[2, 1]) / 2]
    running = (logp[0, 2] + logp[2, 4] + logp[4, 6]) / 3
    assert logp[0, 1] < running <= kept[1]   # the reasoning above
    sequences, scores = call("beam_search", model_spec(bigram_llama(logp)), torch.tensor([[0]]), num_beams=2,
                             max_new_tokens=5, eos_token_id=1, length_penalty=1.0, early_stopping=False,
                             num_return_sequences=2)
    assert [s.tolist() for s in sequences] == [[0, 3, 5, 1], [0, 2, 1]], "stop once no running beam can beat the " \
        "worse of the num_beams kept hypotheses"
    torch.testing.assert_close(scores.float(), torch.stack(kept), rtol=1e-5, atol=1e-5)
