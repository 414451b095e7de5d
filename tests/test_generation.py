"""Notebook 03: generation without a cache (t03_generate_naive) and with prefill + decode (t03_prefill_decode).

Expected tokens come from transformers: LlamaForCausalLM.generate, greedy, on the same weights. prefill_decode
runs on your KVCache and cached_attention (notebook 05), so finish those too before it can pass."""
import pytest
import torch

from llmlab.checkpoint import load_model, load_tokenizer
from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama, to_hf


def hf_greedy(model, input_ids, n):
    """transformers' greedy tokens (B, T + n) for a llmlab model's weights, never stopping at EOS."""
    hf = to_hf(model)
    hf.generation_config.eos_token_id = None  # generate exactly n tokens, as our loops do
    with torch.no_grad():
        return hf.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=n,
                           do_sample=False, use_cache=True, pad_token_id=0)


def check_generation(result, input_ids, n):
    tokens, step_times = result
    assert isinstance(tokens, torch.Tensor) and tokens.dtype == torch.int64, "tokens must be an int64 tensor"
    assert tokens.shape == (input_ids.shape[0], input_ids.shape[1] + n), "tokens must be (B, T + n)"
    assert torch.equal(tokens[:, :input_ids.shape[1]], input_ids), "tokens must start with the prompt"
    assert len(step_times) == n, "one step time per generated token"
    assert all(isinstance(t, float) and t > 0 for t in step_times), "step times are positive seconds"
    return tokens


@pytest.mark.task("t03_generate_naive")
@pytest.mark.parametrize("name,batch,n", [("gqa_tied", 2, 6), ("gqa3_untied", 3, 4), ("mha", 1, 1)])
def test_generate_naive_equals_transformers_greedy(name, batch, n):
    model = random_llama(name)
    input_ids = random_ids(model.config.vocab_size, batch, 5, seed=3)
    tokens = check_generation(call("generate_naive", model_spec(model), input_ids, n), input_ids, n)
    assert torch.equal(tokens, hf_greedy(model, input_ids, n))


@pytest.mark.task("t03_prefill_decode")
@pytest.mark.parametrize("name,batch,n", [("gqa_tied", 2, 6), ("gqa3_untied", 3, 5), ("llama3_mqa", 2, 4),
                                          ("mha", 1, 1)])
def test_prefill_decode_equals_transformers_greedy(name, batch, n):
    model = random_llama(name)
    input_ids = random_ids(model.config.vocab_size, batch, 7, seed=4)
    tokens = check_generation(call("prefill_decode", model_spec(model), input_ids, n), input_ids, n)
    assert torch.equal(tokens, hf_greedy(model, input_ids, n))


@pytest.mark.task("t03_prefill_decode")
def test_prefill_decode_equals_naive_and_transformers_on_the_shipped_model():
    model = load_model(device="cpu")
    input_ids = torch.tensor([load_tokenizer().encode("南京大学计算机学院的课程有").ids])  # the lecture's
    cached = check_generation(call("prefill_decode", "shipped", input_ids, 12), input_ids, 12)
    naive = check_generation(call("generate_naive", "shipped", input_ids, 12), input_ids, 12)
    assert torch.equal(cached, naive)
    assert torch.equal(cached, hf_greedy(model, input_ids, 12))


@pytest.mark.task("t03_generate_naive")
def test_generate_naive_feeds_the_whole_sequence_every_step():
    model = random_llama("gqa_tied")
    input_ids = random_ids(model.config.vocab_size, 2, 4)
    step_times, calls, wall = call("generation_calls", "generate_naive", model_spec(model), input_ids, 5)
    assert calls == [[4, False], [5, False], [6, False], [7, False], [8, False]], "(tokens fed, cache?) per call"
    assert sum(step_times) <= wall, "each step time is that step's own duration"


@pytest.mark.task("t03_prefill_decode")
def test_prefill_decode_feeds_the_prompt_once_then_one_token_per_step():
    model = random_llama("gqa_tied")
    input_ids = random_ids(model.config.vocab_size, 2, 4)
    step_times, calls, wall = call("generation_calls", "prefill_decode", model_spec(model), input_ids, 5)
    assert calls == [[4, True], [1, True], [1, True], [1, True], [1, True]], "(tokens fed, cache?) per call"
    assert sum(step_times) <= wall, "each step time is that step's own duration"
