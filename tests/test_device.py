"""Devices: the model on a GPU takes token ids made on its device, the decoding functions take a CPU random
generator whatever the model's device, and a CPU stand-in for a GPU (llmlab.fake_cuda) finds device mistakes
on a machine without one. Also: RoPE tables that survive a round trip through bf16, and GQA attention where
SDPA's enable_gqa is unavailable (Apple MPS with torch < 2.7)."""
import pytest
import torch

import llmlab.model
from llmlab import fake_cuda
from llmlab.checkpoint import SHIPPED, encode, load_model, load_tokenizer
from llmlab.model import sdpa_enable_gqa_works
from tests import adapters
from tests.adapters import call, model_spec
from tests.random_llama import random_ids, random_llama, to_hf


@pytest.fixture
def gpu():
    """The fake GPU, on for one test."""
    with fake_cuda.switched_on():
        yield fake_cuda.DEVICE


@pytest.fixture
def models_on_gpu(gpu, monkeypatch):
    """Models built for student code go to the fake GPU (as grading/device_under_test.py does)."""
    build = adapters.build_model
    monkeypatch.setattr(adapters, "build_model", lambda spec: fake_cuda.move(build(spec)))
    return gpu


def test_fake_gpu_refuses_what_cuda_refuses(gpu):
    x = torch.arange(6.0).reshape(2, 3).to(gpu)
    assert x.device == torch.device("cuda", 0)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + torch.ones(3)
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator"):
        torch.multinomial(x.softmax(-1), 1, generator=torch.Generator())
    with pytest.raises(TypeError, match=r"Use Tensor.cpu\(\)"):
        x.numpy()                                                   # what matplotlib does with a tensor


def test_fake_gpu_allows_what_cuda_allows_with_the_cpu_values(gpu):
    x = torch.arange(6.0).reshape(2, 3).to(gpu)
    assert (x * torch.tensor(2.0)).tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]  # a 0-dim CPU tensor
    assert x[torch.tensor([1])].tolist() == [[3.0, 4.0, 5.0]]        # a CPU index tensor
    assert int(x[1, 2]) == 5 and x.argmax().item() == 5 and bool(x[0, 1])
    made_there = torch.zeros(2, 3, device=x.device)
    made_there.copy_(torch.ones(2, 3))                                # copies between devices
    assert made_there.device == gpu and made_there.sum().item() == 6.0
    assert type(x.cpu()) is torch.Tensor and x.cpu().tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_model_on_the_gpu_gives_the_cpu_logits_and_refuses_cpu_ids(gpu):
    model = random_llama("gqa_tied", seed=3)
    ids = random_ids(model.config.vocab_size, 2, 7, seed=3)
    expected = to_hf(model)(ids).logits
    fake_cuda.move(model)
    assert model.device == gpu and model.lm_head.weight is model.embed_tokens.weight  # still tied
    with pytest.raises(RuntimeError, match="same device"):
        model(ids)
    logits = model(ids.to(model.device))
    assert logits.device == gpu
    torch.testing.assert_close(logits.cpu(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped checkpoint yet")
def test_encode_gives_the_token_ids_on_the_device(gpu):
    tokenizer = load_tokenizer()
    ids = encode(tokenizer, "小明在", gpu)
    assert ids.device == gpu and ids.dtype == torch.int64
    assert ids.tolist() == [tokenizer.encode("小明在").ids]
    assert encode(tokenizer, "小明在").device == torch.device("cpu")


@pytest.mark.task("t01_sample")
def test_sample_draws_with_a_cpu_generator_from_logits_on_the_gpu(gpu):
    logits = torch.randn(5, 40, generator=torch.Generator().manual_seed(1))
    expected = torch.multinomial(logits.softmax(-1), 1, generator=torch.Generator().manual_seed(7)).squeeze(1)
    assert torch.equal(call("sample", logits.to(gpu), 7), expected)


@pytest.mark.task("t01_beam_search")
def test_beam_search_takes_a_cpu_prompt_for_a_model_on_the_gpu(models_on_gpu):
    model = random_llama("gqa3_untied", seed=4)
    ids = random_ids(model.config.vocab_size, 1, 5, seed=4)
    expected = to_hf(model).generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                                     num_beams=1, pad_token_id=0)[0]   # one beam is greedy decoding
    sequences, _ = call("beam_search", model_spec(model), ids, num_beams=1, max_new_tokens=6)
    assert torch.equal(sequences[0], expected)


@pytest.mark.task("t01_sample")
def test_generate_with_the_model_on_the_gpu_samples_the_tokens_of_transformers_on_the_cpu(models_on_gpu):
    """A CPU generator gives the CPU's tokens whatever the model's device (llmlab.full_generate's seed promise)."""
    model = random_llama("gqa_tied", seed=11)
    ids = random_ids(model.config.vocab_size, 2, 5, seed=11)
    hf = to_hf(model)
    torch.manual_seed(3)                                              # how transformers is seeded
    expected = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=True,
                                     top_k=0, pad_token_id=0)
    out = call("generate", model_spec(model), ids.to(models_on_gpu), 10, seed=3, do_sample=True, use_cache=False)
    assert torch.equal(out, expected)


# ---- RoPE tables and GQA attention ------------------------------------------------------------------------

def test_rope_tables_stay_fp32_so_float_after_bf16_restores_them():
    model = random_llama("llama3_mqa", seed=0)
    cos, sin = model.rope.cos.clone(), model.rope.sin.clone()
    model.to(torch.bfloat16)
    assert model.embed_tokens.weight.dtype == torch.bfloat16 and model.rope.cos.dtype == torch.float32
    positions = torch.tensor([0, 5, 9])
    assert torch.equal(model.rope(positions, torch.bfloat16)[0], cos[positions].to(torch.bfloat16))  # as used
    model.float()
    assert torch.equal(model.rope.cos, cos) and torch.equal(model.rope.sin, sin)


@pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped checkpoint yet")
def test_load_model_in_bf16_then_float_has_the_fp32_rope_tables():
    exact = load_model(device="cpu").rope
    restored = load_model(device="cpu", dtype=torch.bfloat16).float().rope
    assert torch.equal(restored.cos, exact.cos) and torch.equal(restored.sin, exact.sin)


def test_enable_gqa_is_avoided_only_on_mps_before_torch_2_7():
    mps, cpu = torch.device("mps"), torch.device("cpu")
    assert not sdpa_enable_gqa_works(mps, "2.6.0") and not sdpa_enable_gqa_works(mps, "2.5.1")
    assert sdpa_enable_gqa_works(mps, "2.7.0") and sdpa_enable_gqa_works(cpu, "2.5.1")


@pytest.mark.parametrize("name", ["gqa3_untied", "llama3_mqa"])
def test_gqa_attention_without_enable_gqa_gives_the_same_logits(name, monkeypatch):
    model = random_llama(name, seed=2)
    ids = random_ids(model.config.vocab_size, 2, 9, seed=2)
    expected = to_hf(model)(ids).logits
    asked = []
    monkeypatch.setattr(llmlab.model, "sdpa_enable_gqa_works", lambda device: asked.append(device) or False)
    torch.testing.assert_close(model(ids), expected, atol=1e-4, rtol=1e-4)
    assert len(asked) == model.config.num_hidden_layers                # every layer took the fallback
