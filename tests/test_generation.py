"""Notebook 03: generation without a cache (t03_generate_naive) and with prefill + decode (t03_prefill_decode).

Expected tokens come from transformers: LlamaForCausalLM.generate, greedy, on the same weights. prefill_decode
runs on your KVCache and cached_attention (notebook 05), so finish those too before it can pass."""
import pytest
import torch

from llmlab.checkpoint import load_model, load_tokenizer
from tests.adapters import call, model_spec
from tests.asserts import assert_tensor, assert_tensor_equal
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
    assert_tensor(tokens, torch.int64, (input_ids.shape[0], input_ids.shape[1] + n), "tokens (B, T + n)")
    assert_tensor_equal(tokens[:, :input_ids.shape[1]], input_ids, "tokens must start with the prompt")
    assert len(step_times) == n, f"one step time per generated token: {n} expected, got {len(step_times)}"
    assert all(isinstance(t, float) and t > 0 for t in step_times), \
        f"step times must be positive seconds, got {step_times}"
    return tokens


@pytest.mark.task("t03_generate_naive")
@pytest.mark.parametrize("name,batch,n", [("gqa_tied", 2, 6), ("gqa3_untied", 3, 4), ("mha", 1, 1)])
def test_generate_naive_equals_transformers_greedy(name, batch, n):
    model = random_llama(name)
    input_ids = random_ids(model.config.vocab_size, batch, 5, seed=3)
    tokens = check_generation(call("generate_naive", model_spec(model), input_ids, n), input_ids, n)
    assert_tensor_equal(tokens, hf_greedy(model, input_ids, n), "generate_naive tokens vs transformers")


@pytest.mark.task("t03_prefill_decode")
@pytest.mark.parametrize("name,batch,n", [("gqa_tied", 2, 6), ("gqa3_untied", 3, 5), ("llama3_mqa", 2, 4),
                                          ("mha", 1, 1)])
def test_prefill_decode_equals_transformers_greedy(name, batch, n):
    model = random_llama(name)
    input_ids = random_ids(model.config.vocab_size, batch, 7, seed=4)
    tokens = check_generation(call("prefill_decode", model_spec(model), input_ids, n), input_ids, n)
    assert_tensor_equal(tokens, hf_greedy(model, input_ids, n), "prefill_decode tokens vs transformers")


@pytest.mark.parametrize("fn_name", [pytest.param("generate_naive", marks=pytest.mark.task("t03_generate_naive")),
                                     pytest.param("prefill_decode", marks=pytest.mark.task("t03_prefill_decode"))])
def test_equals_transformers_on_the_shipped_model(fn_name):
    model = load_model(device="cpu")
    input_ids = torch.tensor([load_tokenizer().encode("南京大学计算机学院的课程有").ids])  # the lecture's
    tokens = check_generation(call(fn_name, "shipped", input_ids, 12), input_ids, 12)
    assert_tensor_equal(tokens, hf_greedy(model, input_ids, 12), f"{fn_name} tokens vs transformers")


@pytest.mark.task("t03_generate_naive")
def test_generate_naive_feeds_the_whole_sequence_every_step():
    model = random_llama("gqa_tied")
    input_ids = random_ids(model.config.vocab_size, 2, 4)
    step_times, calls, wall = call("generation_calls", "generate_naive", model_spec(model), input_ids, 5)
    expected = [[4, False], [5, False], [6, False], [7, False], [8, False]]
    assert calls == expected, f"[tokens fed, with a cache?] of each model call: {calls}, expected {expected}"
    assert sum(step_times) <= wall, "each step time is that step's own duration"


@pytest.mark.task("t03_prefill_decode")
def test_prefill_decode_feeds_the_prompt_once_then_one_token_per_step():
    model = random_llama("gqa_tied")
    input_ids = random_ids(model.config.vocab_size, 2, 4)
    step_times, calls, wall = call("generation_calls", "prefill_decode", model_spec(model), input_ids, 5)
    expected = [[4, True], [1, True], [1, True], [1, True], [1, True]]
    assert calls == expected, f"[tokens fed, with a cache?] of each model call: {calls}, expected {expected}"
    assert sum(step_times) <= wall, "each step time is that step's own duration"
