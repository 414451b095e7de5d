"""A stand-in GPU on the CPU, to find device mistakes on a machine without one: LLMLAB_DEVICE=fake-cuda.

On a GPU the model's tensors live in GPU memory, and code that works on a CPU fails there when it mixes
devices: `model(torch.tensor(ids))` (the ids are on the CPU), `torch.multinomial(gpu_probs, 1,
generator=torch.Generator())` (a CPU generator), `plt.bar(x, gpu_tensor)` (NumPy cannot read GPU memory).
On a CPU-only machine every tensor is on the CPU and none of these mistakes shows.

With LLMLAB_DEVICE=fake-cuda, `llmlab.load_model()` puts the model on a fake device: its tensors report
`device cuda:0` but hold their values on the CPU (FakeCudaTensor), and every operation on them computes on
the CPU, with the same values. What CUDA refuses, they refuse, with CUDA's own messages:
- an operation mixing them with CPU tensors of one or more dimensions (0-dim CPU tensors are allowed, as
  CUDA allows them; so are CPU index tensors in `x[index]`, and copies between devices);
- drawing random numbers for them with a CPU `torch.Generator`;
- `.numpy()` (what matplotlib calls): move the tensor to the CPU first with `.cpu()`.
Factory functions given `device="cuda"` (or the model's device) make fake tensors, `.to("cuda")` and
`.cuda()` move tensors onto the fake device, `.cpu()` and `.to("cpu")` bring them back.

This is a test tool: it finds where tensors live, not what a GPU computes (precision, kernels, speed, the
GPU's own random generator). Tensors that require gradients cannot go on it.
"""
import contextlib

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

DEVICE = torch.device("cuda", 0)
_CPU = torch.device("cpu")
_COPY_OPS = {torch.ops.aten.copy_.default, torch.ops.aten._to_copy.default, torch.ops.aten.copy.default}
_NEW_TENSOR = {torch.Tensor.new_tensor, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full,
               torch.Tensor.new_empty}
_TO_PYTHON = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__int__, torch.Tensor.__float__,
              torch.Tensor.__bool__, torch.Tensor.__index__}
_on = False
_process_wide = None  # the switched_on() that enable() entered


class FakeCudaTensor(torch.Tensor):
    """A tensor that reports device cuda:0 and holds its values in `cpu_values`, a CPU tensor."""

    @staticmethod
    def __new__(cls, cpu: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, cpu.shape, strides=cpu.stride(), dtype=cpu.dtype,
                                                   device=DEVICE, requires_grad=cpu.requires_grad)

    def __init__(self, cpu: torch.Tensor):
        self.cpu_values = cpu

    def __repr__(self, **kwargs):
        return torch._tensor_str._str(self.cpu_values)[:-1] + f", device='{DEVICE}')"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _run(func, args, kwargs)


def _run(func, args, kwargs):
    """Run an aten op on the CPU values; its result is on the fake GPU when the op puts it there (device="cuda")
    or when it takes a fake-GPU tensor and says nothing else."""
    kwargs = dict(kwargs or {})
    target = kwargs.get("device")
    fakes = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, FakeCudaTensor)]
    if not fakes and not _is_cuda(target):
        return func(*args, **kwargs)
    _check_same_device(func, args, kwargs)
    if target is not None:
        kwargs["device"] = _CPU
    out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
    if target is not None and not _is_cuda(target):
        return out
    inputs = {id(_unwrap(t)): t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
    return tree_map(lambda t: inputs[id(t)] if id(t) in inputs else _wrap(t), out)  # in-place ops: the input


class _FakeCudaDispatch(TorchDispatchMode):
    """Sees every aten op of a call that involves the fake GPU, also the tensors torch makes inside it (a Python
    scalar made a cuda tensor). On only during such calls: CPU code elsewhere runs as it always does."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return _run(func, args, kwargs)


def _wrap(t):
    return FakeCudaTensor(t) if isinstance(t, torch.Tensor) and not isinstance(t, FakeCudaTensor) else t


def _unwrap(t):
    return t.cpu_values if isinstance(t, FakeCudaTensor) else t


def _check_same_device(func, args, kwargs):
    """Raise as CUDA does when an op mixes fake-GPU tensors with CPU tensors or a CPU generator."""
    tensors = tree_flatten((args, kwargs))[0]
    generator = kwargs.get("generator")
    if generator is not None and generator.device.type != "cuda":
        raise RuntimeError(f"Expected a 'cuda' device type for generator but found '{generator.device.type}'")
    if func in _COPY_OPS:  # copies between devices are fine
        return
    if any(isinstance(t, torch.Tensor) and not isinstance(t, FakeCudaTensor) and t.dim() > 0 for t in tensors):
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{DEVICE} and cpu! (in {func})")


def _is_cuda(device) -> bool:
    return device is not None and torch.device(device).type == "cuda"


class FakeCudaMode(TorchFunctionMode):
    """Sees every torch call while the fake GPU is on. Sends what would need a real GPU to the fake one
    (factories with device="cuda", `.to("cuda")`, `.cuda()`), refuses `.numpy()` of fake tensors, and does on
    the CPU values what torch's Python bindings would otherwise hand to the CUDA runtime (indexing, copies,
    `x.new_*`, attention's choice of kernels); every other call with a fake tensor runs its aten ops through
    _FakeCudaDispatch."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        self_ = args[0] if args else None
        if func in (torch.Tensor.to, torch.Tensor.cuda):
            to_args = {k: v for k, v in kwargs.items() if k != "copy"}  # _parse_to takes no copy=
            device, dtype = ((DEVICE, None) if func is torch.Tensor.cuda
                             else torch._C._nn._parse_to(*args[1:], **to_args)[:2])
            if _is_cuda(device):
                values = _unwrap(self_)
                moved = values.to(dtype or values.dtype, copy=not isinstance(self_, FakeCudaTensor))
                return self_ if moved is values else FakeCudaTensor(moved)
        elif func in (torch.Tensor.numpy, torch.Tensor.__array__) and isinstance(self_, FakeCudaTensor):
            raise TypeError(f"can't convert {DEVICE} device type tensor to numpy. Use Tensor.cpu() to copy the "
                            f"tensor to host memory first.")
        elif func is torch.Tensor.__getitem__ and isinstance(self_, FakeCudaTensor):
            return _wrap(self_.cpu_values[tree_map(_unwrap, args[1])])  # CPU index tensors are fine on CUDA
        elif func is torch.Tensor.__setitem__ and isinstance(self_, FakeCudaTensor):
            self_.cpu_values[tree_map(_unwrap, args[1])] = _unwrap(args[2])
            return None
        elif func in _NEW_TENSOR and isinstance(self_, FakeCudaTensor) and kwargs.get("device") is None:
            return _wrap(func(self_.cpu_values, *args[1:], **kwargs))  # x.new_tensor(...) and co. on x's device
        elif func is torch.Tensor.copy_ and isinstance(self_, FakeCudaTensor):
            self_.cpu_values.copy_(_unwrap(args[1]))                  # copies between devices are fine
            return self_
        elif func is torch.Tensor.detach and isinstance(self_, FakeCudaTensor):
            return _wrap(self_.cpu_values.detach())   # the generic path cannot detach an inference-mode tensor
        elif func in _TO_PYTHON and isinstance(self_, FakeCudaTensor):
            return func(self_.cpu_values)                             # .item(), int(x), .tolist(), ...
        elif func is torch.nn.functional.scaled_dot_product_attention and any(
                isinstance(t, FakeCudaTensor) for t in tree_flatten((args, kwargs))[0]):
            _check_same_device(func, args, kwargs)  # SDPA would pick CUDA kernels for a cuda device
            return _wrap(func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs)))
        elif _is_cuda(kwargs.get("device")):  # a factory (torch.zeros, torch.tensor, ...) or x.new_*(...)
            generator = kwargs.get("generator")
            if generator is not None and generator.device.type != "cuda":
                raise RuntimeError(f"Expected a 'cuda' device type for generator but found "
                                   f"'{generator.device.type}'")
            kwargs["device"] = _CPU
            return tree_map(_wrap, func(*args, **kwargs))
        if any(isinstance(t, FakeCudaTensor) for t in tree_flatten((args, kwargs))[0]):
            with _FakeCudaDispatch():
                return func(*args, **kwargs)
        return func(*args, **kwargs)


@contextlib.contextmanager
def switched_on():
    """The fake GPU on inside a `with` block (nothing changes when it is already on)."""
    global _on
    if _on:
        yield
        return
    synchronize, torch.cuda.synchronize = torch.cuda.synchronize, lambda device=None: None  # nothing to wait for
    _on = True
    try:
        with FakeCudaMode():
            yield
    finally:
        _on, torch.cuda.synchronize = False, synchronize


def enable():
    """Switch the fake GPU on for the rest of this process."""
    global _process_wide
    if not _on:
        _process_wide = switched_on()
        _process_wide.__enter__()


def enabled() -> bool:
    return _on


def move(module: torch.nn.Module) -> torch.nn.Module:
    """Put every parameter and buffer of `module` on the fake GPU, for inference (no gradients: autograd
    would need the real CUDA runtime); shared (tied) tensors stay shared."""
    moved = {}
    for sub in module.modules():
        for table in (sub._parameters, sub._buffers):
            for name, t in table.items():
                if t is None or isinstance(t, FakeCudaTensor):
                    continue
                if id(t) not in moved:
                    fake = FakeCudaTensor(t.detach())
                    moved[id(t)] = torch.nn.Parameter(fake, requires_grad=False) if table is sub._parameters else fake
                table[name] = moved[id(t)]
    return module
