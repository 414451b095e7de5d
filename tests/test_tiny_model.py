"""The shipped tiny model (llmlab/checkpoints/tiny-zh) and the grammar it was trained on.

The grammar (`llmlab.corpus`) is the independent source of truth: it says exactly how likely each next word is.
"""
import random
from collections import Counter

import pytest
import torch

from llmlab import corpus
from llmlab.checkpoint import SHIPPED, load_model, load_tokenizer

SENTENCES = ["南京大学计算机学院的课程有算法和操作系统。", "今天南京下雨，我想去杭州旅游，小红喜欢吃汤包、饺子和面条。"]
LOOP_PROMPT = "我喜欢吃"


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def chained_probability(model, tokenizer, prefix, word):
    """P(word | <s> prefix): the product of the probabilities of the word's tokens."""
    context = tokenizer.encode(prefix).ids
    word_ids = tokenizer.encode(word, add_special_tokens=False).ids
    ids = torch.tensor([context + word_ids])
    with torch.no_grad():
        probs = model(ids)[0].softmax(-1)
    p = 1.0
    for i, token in enumerate(word_ids):
        p *= probs[len(context) - 1 + i, token].item()
    return p


# ---- the grammar ------------------------------------------------------------------------------------------

def test_grammar_has_the_lecture_distribution():
    exact = corpus.next_word_distribution(corpus.LECTURE_PREFIX)
    for word, p in corpus.LECTURE_DISTRIBUTION.items():
        assert exact[word] == pytest.approx(p, abs=1e-12)
    others = sum(p for w, p in exact.items() if w not in corpus.LECTURE_DISTRIBUTION)
    assert others == pytest.approx(0.05, abs=1e-12)
    assert len(exact) > len(corpus.LECTURE_DISTRIBUTION)


def test_sampling_is_deterministic_under_a_seed():
    a = list(corpus.sentences(random.Random(7), 50))
    assert a == list(corpus.sentences(random.Random(7), 50))
    assert a != list(corpus.sentences(random.Random(8), 50))
    assert len(set(a)) > 40  # varied sentences


def test_sampled_next_words_match_the_distribution():
    prefix = ["南京大学", "计算机学院", "的", "课程", "有"]  # LECTURE_PREFIX as words; clauses are independent,
    assert "".join(prefix) == corpus.LECTURE_PREFIX  # so every occurrence of it counts, not only the first
    rng, counts = random.Random(0), Counter()
    while counts.total() < 10_000:
        words = corpus.sample_words(rng)
        for i in range(len(words) - len(prefix)):
            if words[i:i + len(prefix)] == prefix:
                counts[words[i + len(prefix)]] += 1
    for word, p in corpus.LECTURE_DISTRIBUTION.items():
        assert counts[word] / counts.total() == pytest.approx(p, abs=0.015), word


# ---- the shipped checkpoint -------------------------------------------------------------------------------

def test_checkpoint_files_and_size():
    names = {p.name for p in SHIPPED.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json"} <= names
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 20 * 2**20


def test_model_learned_the_lecture_probabilities(model, tokenizer):
    for word, p in corpus.LECTURE_DISTRIBUTION.items():
        assert chained_probability(model, tokenizer, corpus.LECTURE_PREFIX, word) == pytest.approx(p, abs=0.03), word


def test_transformers_gives_the_same_logits(model, tokenizer):
    from transformers import AutoModelForCausalLM
    hf, info = AutoModelForCausalLM.from_pretrained(SHIPPED, output_loading_info=True)
    assert type(hf).__name__ == "LlamaForCausalLM"
    assert not any(info.values()), info  # no missing, unexpected or mismatched weights
    for text in SENTENCES:
        ids = torch.tensor([tokenizer.encode(text).ids])
        with torch.no_grad():
            expected = hf(ids).logits.float()
            got = model(ids)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_auto_tokenizer_encodes_like_tokenizers(tokenizer):
    from transformers import AutoTokenizer
    auto = AutoTokenizer.from_pretrained(SHIPPED)
    assert (auto.bos_token_id, auto.eos_token_id, auto.pad_token_id) == (1, 2, 3)
    for text in SENTENCES + [corpus.LECTURE_PREFIX, "北京有abc"]:
        ids = tokenizer.encode(text).ids
        assert ids[0] == auto.bos_token_id
        assert auto(text)["input_ids"] == ids
        assert auto.decode(ids, skip_special_tokens=True) == tokenizer.decode(ids)


def test_greedy_decoding_falls_into_a_loop(model, tokenizer):
    ids = tokenizer.encode(LOOP_PROMPT).ids
    start = len(ids)
    with torch.no_grad():
        for _ in range(40):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    new = ids[start:]
    fourgrams = Counter(tuple(new[i:i + 4]) for i in range(len(new) - 3))
    assert max(fourgrams.values()) >= 3, tokenizer.decode(ids)
