"""llmlab's Llama (llmlab/model.py, no cache) against transformers' LlamaForCausalLM, llmlab.checkpoint's
loading and its errors, and what FLOP counters and torch.compile see of it. The model is given code, not an exercise:
these tests pass from the start."""
import json

import pytest
import torch
import transformers
from fvcore.nn import FlopCountAnalysis
from safetensors.torch import save_file
from torch.utils.flop_counter import FlopCounterMode
from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding

from llmlab.checkpoint import CheckpointError, load_model, save_checkpoint
from llmlab.model import LlamaConfig, RMSNorm, RotaryEmbedding
from tests.random_llama import CONFIGS, bigram_llama, random_ids, random_llama, to_hf

ATOL = RTOL = 1e-4


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logits_equal_transformers_eager(name):
    model = random_llama(name, seed=1)
    hf = to_hf(model)
    ids = random_ids(model.config.vocab_size, batch=3, length=13, seed=2)
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert ours.shape == theirs.shape == (3, 13, model.config.vocab_size) and ours.dtype == torch.float32
    assert theirs.abs().max() > 1  # the weights are large enough for layout bugs to show
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=RTOL)


def test_last_only_is_the_last_position():
    model = random_llama("gqa_tied")
    ids = random_ids(model.config.vocab_size, batch=2, length=5)
    with torch.no_grad():
        torch.testing.assert_close(model(ids, last_only=True), model(ids)[:, -1:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("eps", [1e-6, 1e-5])
def test_rmsnorm_equals_transformers_on_small_activations(eps):
    # the eps term only matters when mean(x^2) is comparable to it
    torch.manual_seed(0)
    x = 3e-3 * torch.randn(2, 5, 16)
    ours, theirs = RMSNorm(16, eps), LlamaRMSNorm(16, eps=eps)
    with torch.no_grad():
        ours.weight.normal_(1, 0.3)
        theirs.weight.copy_(ours.weight)
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-5)
        other = RMSNorm(16, 1e-5 if eps == 1e-6 else 1e-6)
        other.weight.copy_(ours.weight)
        assert (other(x) - theirs(x)).abs().max() > 1e-3  # so the comparison above can tell eps apart


def test_rmsnorm_in_fp32_is_transformers_formula_bit_for_bit():
    torch.manual_seed(1)
    x = 4 * torch.randn(3, 7, 64)
    ours, theirs = RMSNorm(64, 1e-5), LlamaRMSNorm(64, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_(1, 0.3)
        theirs.weight.copy_(ours.weight)
        assert torch.equal(ours(x), theirs(x))
        # bf16: normalised in fp32, cast back, then scaled in bf16, as transformers does
        ours_bf16, theirs_bf16 = ours.to(torch.bfloat16), theirs.to(torch.bfloat16)
        assert torch.equal(ours_bf16(x.bfloat16()), theirs_bf16(x.bfloat16()))


@pytest.mark.parametrize("scaling", [None, {"rope_type": "linear", "factor": 4.0},
                                     {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64}],
                         ids=["default", "linear", "llama3"])
def test_rope_tables_equal_transformers(scaling):
    config = LlamaConfig(hidden_size=64, num_attention_heads=2, rope_theta=5e5, rope_scaling=scaling,
                         max_position_embeddings=300)
    hf_config = transformers.LlamaConfig(hidden_size=64, num_attention_heads=2, max_position_embeddings=300,
                                         rope_parameters={"rope_type": "default", "rope_theta": 5e5, **(scaling or {})})
    positions = torch.tensor([0, 1, 2, 17, 150, 299])
    ours = RotaryEmbedding(config)(positions)
    theirs = LlamaRotaryEmbedding(hf_config)(torch.zeros(1, dtype=torch.float32), positions[None])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b[0], atol=1e-6, rtol=0)


def test_positions_past_max_position_embeddings_raise():
    model = random_llama("gqa_tied")
    limit = model.config.max_position_embeddings
    cache = model.new_cache(1, limit + 1)
    with torch.no_grad():
        model(random_ids(model.config.vocab_size, batch=1, length=limit), cache)  # fills every position
        with pytest.raises(ValueError, match=f"max_position_embeddings={limit}"):
            model(torch.zeros(1, 1, dtype=torch.long), cache)


# ---- checkpoints ------------------------------------------------------------------------------------------

def test_save_then_load_with_llmlab_and_transformers(tmp_path):
    model = random_llama("gqa3_untied")
    save_checkpoint(model, tmp_path)
    ids = random_ids(model.config.vocab_size, batch=2, length=7)
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path, attn_implementation="eager")
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path, device="cpu")(ids), hf(ids).logits, atol=ATOL, rtol=RTOL)


def test_sharded_transformers_checkpoint_loads(tmp_path):
    model = random_llama("gqa_tied")
    hf = to_hf(model)
    hf.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists() and len(list(tmp_path.glob("*.safetensors"))) > 1
    ids = random_ids(model.config.vocab_size, batch=2, length=7)
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path, device="cpu")(ids), hf(ids).logits, atol=ATOL, rtol=RTOL)


@pytest.fixture
def checkpoint(tmp_path):
    save_checkpoint(random_llama("mha"), tmp_path)
    return tmp_path


def _edit_config(directory, **changes):
    path = directory / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _break_missing_config(d):
    (d / "config.json").unlink()
    return "config.json"


def _break_missing_weights(d):
    (d / "model.safetensors").unlink()
    return "model.safetensors"


def _break_model_type(d):
    _edit_config(d, model_type="gpt2")
    return "config.json"


def _break_shapes(d):
    _edit_config(d, intermediate_size=65)
    return "model.safetensors"


def _break_corrupt_weights(d):
    (d / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    return "model.safetensors"


def _break_pickle_only(d):
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    return "pytorch_model.bin"


def _break_missing_shard(d):
    from safetensors.torch import load_file
    state = load_file(d / "model.safetensors")
    names = sorted(state)
    half = len(names) // 2
    save_file({k: state[k] for k in names[:half]}, d / "model-00001-of-00002.safetensors")
    weight_map = {k: ("model-00001-of-00002.safetensors" if i < half else "model-00002-of-00002.safetensors")
                  for i, k in enumerate(names)}
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (d / "model.safetensors").unlink()
    return "model-00002-of-00002.safetensors"


@pytest.mark.parametrize("breaker", [_break_missing_config, _break_missing_weights, _break_model_type,
                                     _break_shapes, _break_corrupt_weights, _break_pickle_only,
                                     _break_missing_shard], ids=lambda f: f.__name__.removeprefix("_break_"))
def test_bad_checkpoint_raises_one_error_naming_the_file(checkpoint, breaker):
    file = breaker(checkpoint)
    with pytest.raises(CheckpointError) as error:
        load_model(checkpoint, device="cpu")
    assert file in str(error.value)


def test_bigram_llama_gives_its_table_as_logits():
    table = torch.randn(7, 7, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[3, 0, 6, 6, 1]])
    torch.testing.assert_close(bigram_llama(table)(ids)[0], table[ids[0]], rtol=1e-5, atol=1e-5)


# ---- what notebooks 03, 04 and the benchmark rely on --------------------------------------------------------

def test_flop_counters_count_the_model_per_module():
    # notebooks 03 and 04 count FLOPs per module (q_proj, k_proj, ...) with FlopCounterMode and fvcore:
    # every projection must be an F.linear of the module that owns the weight, with 2 FLOPs per multiply-add
    model = random_llama("gqa_tied", seed=3)
    c, T = model.config, 5
    ids = random_ids(c.vocab_size, 1, T)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(ids)
    per_module = counter.get_flop_counts()
    h, i = c.hidden_size, c.intermediate_size
    for name, macs_per_token in [("self_attn.q_proj", h * c.num_attention_heads * c.head_dim),
                                 ("self_attn.k_proj", h * c.num_key_value_heads * c.head_dim),
                                 ("self_attn.v_proj", h * c.num_key_value_heads * c.head_dim),
                                 ("self_attn.o_proj", c.num_attention_heads * c.head_dim * h),
                                 ("mlp.gate_proj", h * i), ("mlp.up_proj", h * i), ("mlp.down_proj", i * h)]:
        module = next(key for key in per_module if key.endswith(f"layers.0.{name}"))
        assert sum(per_module[module].values()) == 2 * T * macs_per_token, name
    # fvcore counts one multiply-add as one FLOP, and the same products
    assert FlopCountAnalysis(model, (ids,)).by_module()["layers.0.mlp.up_proj"] == T * h * i


def test_model_compiles_without_graph_breaks():
    # torch.compile (python -m llmlab.instructor.bench --compile) must trace the whole forward
    model = random_llama("gqa_tied", seed=3)
    ids = random_ids(model.config.vocab_size, 1, 4)
    with torch.inference_mode():
        explanation = torch._dynamo.explain(model)(ids)
    assert explanation.graph_break_count == 0, explanation.break_reasons
