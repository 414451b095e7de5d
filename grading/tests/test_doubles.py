"""The t03 test doubles (grading/doubles.py) honour the interface of what they stand for: the cache doubles have
every public attribute of llmlab's KVCache (with the same shapes, dtype and memory), the model doubles every
public attribute of llmlab's Llama except the weight-holding layers, which the generation docstring says not to
use."""
import torch
from torch import nn

from grading import doubles
from grading.doubles import RecordingModel, RemoteModel, serving
from grading.overlay import ROOT
from tests import adapters
from tests.random_llama import random_llama

LAYERS = {"embed_tokens", "layers", "norm", "lm_head", "rope"}  # hold the weights, which stay in the trusted process


def public(obj) -> set:
    """Public attributes beyond what every torch module has."""
    return {name for name in dir(obj) if not name.startswith("_")} - set(dir(nn.Module()))


def test_cache_doubles_have_the_kv_cache_interface():
    doubles.register(adapters)
    model = random_llama("gqa3_untied", seed=0).to(torch.float16)
    real = model.new_cache(2, 9)
    recording = RecordingModel(model)
    with serving(recording):
        for cache in (recording.new_cache(2, 9), RemoteModel().new_cache(2, 9)):
            assert public(real) <= public(cache), f"{type(cache).__name__} lacks {public(real) - public(cache)}"
            assert cache.length == real.length == 0 and cache.memory_bytes() == real.memory_bytes()
            for mine, theirs in ((cache.k, real.k), (cache.v, real.v)):
                assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
            cache.reset()


def test_model_doubles_have_the_llama_interface_but_its_layers():
    doubles.register(adapters)
    model = random_llama("gqa_tied", seed=0)
    recording = RecordingModel(model)
    with serving(recording):
        remote = RemoteModel()
        for double in (recording, remote):
            missing = public(model) - LAYERS - public(double)
            assert not missing, f"{type(double).__name__} lacks {missing}"
            assert double.config == model.config and double.device == model.device
            assert double.num_parameters() == model.num_parameters() and callable(double)
    text = (ROOT / "solutions" / "llmlab" / "generation.py").read_text(encoding="utf-8")
    for name in public(model) - LAYERS:
        assert f"model.{name}" in text, f"llmlab/generation.py's docstring does not say model.{name} may be used"
