"""The public and hidden tests with student code on a device under test: LLMLAB_DEVICE=cuda, mps, or fake-cuda
(the CPU stand-in of llmlab.fake_cuda, which fails every operation that mixes devices).

`install(adapters)` (the root conftest.py calls it when LLMLAB_DEVICE is set) moves every model the tests
build for student code (`adapters.build_model`) to that device, and every tensor a scenario is given with
it, as a notebook gives the model's outputs and inputs on the model's device. Results come back to the CPU
through the adapters' codec as always, and are compared there. Tests that load a model themselves with
device="cpu" (against transformers) keep it on the CPU; a model the tests serve to student code from their own
process (t03's RecordingModel) goes to the device with `on_device`.
"""
import copy

from torch import Tensor
from torch.utils._pytree import tree_map

from llmlab.checkpoint import pick_device, to_device


DEVICE = None   # the device under test, once installed


def install(adapters) -> None:
    global DEVICE
    device = DEVICE = pick_device()
    build_model, call = adapters.build_model, adapters.call

    def build_model_on_device(spec):
        return to_device(build_model(spec), device)

    def call_on_device(name, *args, **kwargs):
        if adapters._remote is None:  # in this process; a sandbox builds its own tensors from plain data
            args, kwargs = tree_map(lambda x: x.to(device) if isinstance(x, Tensor) else x, (args, kwargs))
        return call(name, *args, **kwargs)

    adapters.build_model, adapters.call = build_model_on_device, call_on_device


def on_device(model):
    """A copy of `model` on the device under test (`model` itself when none is installed), for the models the
    tests serve to student code from this process (grading/doubles.py's RecordingModel); `model` stays where
    it is, for the trusted side's own computations."""
    return model if DEVICE is None else to_device(copy.deepcopy(model), DEVICE)
