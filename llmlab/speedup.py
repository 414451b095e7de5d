"""Faster decoding on CPUs: `speed_up(model)` makes a loaded llmlab Llama faster without changing what it
computes (the same values within float rounding, the same parameters and state_dict).

llmlab/model.py is the model as it is defined, written to be read; this file is only about speed, and
nothing in the exercises depends on it. `llmlab.load_model` applies it (`load_model(fast=False)` gives the
plain model). What it changes, on a CPU in float32:

- A decoding step multiplies every weight matrix by one vector, so its speed is bound by how fast the weights
  are read (notebook 03's roofline). MKL's matrix-vector product behind F.linear runs on one core; oneDNN's,
  on a copy of the weights prepacked for it, uses every core and reads them up to 1.5x faster. Matrices of at
  least ONEDNN_MIN_WEIGHTS elements are multiplied through oneDNN.
- q, k and v are computed in one such product with their weights stacked, and so are gate and up: one large
  product reads the weights faster than three smaller ones.
Smaller matrices (the shipped tiny model's) are left as they are: MKL's calls cost less, and a step of a tiny
model is bound by Python overhead, which the extra checks here would only add to.

Everywhere else the model runs exactly as defined: on other devices and dtypes, while autograd records, under
torch.compile (which picks its own kernels), and while a FLOP counter watches (FlopCounterMode and fvcore know
F.linear, not oneDNN, and attribute FLOPs to the modules called: q_proj, k_proj, ...).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import _get_current_dispatch_mode

from llmlab.model import MLP, Attention, Llama

ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
ONEDNN_MIN_WEIGHTS = 2**18  # smaller matrices are faster through MKL, whose calls cost less


def speed_up(model: Llama) -> Llama:
    """Make `model` faster on CPUs, in place; returns it. Apply it once the weights are loaded (later changes
    to them are noticed, at the cost of packing them again)."""
    for layer in model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        if is_large(attn.q_proj, attn.k_proj, attn.v_proj):
            attn.__class__, attn.qkv = FusedAttention, StackedLinear(attn.q_proj, attn.k_proj, attn.v_proj)
        if is_large(mlp.gate_proj, mlp.up_proj):
            mlp.__class__, mlp.gate_up = FusedMLP, StackedLinear(mlp.gate_proj, mlp.up_proj)
        for linear in (attn.o_proj, mlp.down_proj):
            if is_large(linear):
                linear.__class__, linear.packed = PackedLinear, StackedLinear(linear)
    if is_large(model.lm_head):
        model.lm_head.__class__, model.lm_head.packed = PackedLinear, StackedLinear(model.lm_head)
    return model


def is_large(*layers: nn.Linear) -> bool:
    """Whether the layers' weights together are large enough to be multiplied through oneDNN."""
    return ONEDNN and sum(layer.weight.numel() for layer in layers) >= ONEDNN_MIN_WEIGHTS


class FusedAttention(Attention):
    """Attention whose q, k and v come from one product (self.qkv)."""

    def project_qkv(self, x):
        return self.qkv(x) if self.qkv.applies(x) else super().project_qkv(x)


class FusedMLP(MLP):
    """SwiGLU whose gate and up come from one product (self.gate_up)."""

    def forward(self, x):
        if not self.gate_up.applies(x):
            return super().forward(x)
        gate, up = self.gate_up(x)                 # (B, T, I) each
        return self.down_proj(F.silu(gate) * up)   # (B, T, h)


class PackedLinear(nn.Linear):
    """nn.Linear multiplied through oneDNN (self.packed) where that applies."""

    def forward(self, x):
        return self.packed(x)[0] if self.packed.applies(x) else super().forward(x)


class StackedLinear:
    """[layer(x) for layer in layers] as one oneDNN product with the layers' weights stacked and prepacked.
    Not a module: the layers stay where the model has them, and their weights are the only source of truth;
    the packed copy is made again whenever one of them has changed."""

    def __init__(self, *layers: nn.Linear):
        self.layers = layers
        self.sizes = [layer.out_features for layer in layers]
        self.copy = None  # (each parameter's data and version when packed, packed weight, stacked bias)

    def applies(self, x) -> bool:
        """Whether this product may replace the layers' own for input x."""
        weights = [layer.weight for layer in self.layers]
        return (x.is_cpu and x.dtype == torch.float32
                and all(w.is_cpu and w.dtype == torch.float32 for w in weights)
                and not (torch.is_grad_enabled() and (x.requires_grad or any(w.requires_grad for w in weights)))
                and not torch.compiler.is_compiling() and not _counting_flops())

    def __call__(self, x) -> list[torch.Tensor]:
        weight, bias = self._packed()
        y = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")  # (..., sum of out_features)
        return list(y.split(self.sizes, dim=-1))

    def _packed(self):
        params = [p for layer in self.layers for p in (layer.weight, layer.bias) if p is not None]
        # a parameter changed if it was modified in place (its version counts that) or given new data
        # (model.to(...)): the data it had stays referenced here, so new data cannot have the same address
        if self.copy is None or any(data.data_ptr() != p.data_ptr() or version != p._version
                                    for (data, version), p in zip(self.copy[0], params)):
            weight = torch.cat([layer.weight.detach() for layer in self.layers])  # (sum of out_features, in)
            weight = torch.ops.mkldnn._reorder_linear_weight(weight, 1)
            bias = None if self.layers[0].bias is None else torch.cat([layer.bias.detach() for layer in self.layers])
            self.copy = ([(p.detach(), p._version) for p in params], weight, bias)
        return self.copy[1], self.copy[2]

    def __getstate__(self):
        """Pickled and deep-copied without the copy, which is made again when needed."""
        return {**self.__dict__, "copy": None}


def _counting_flops() -> bool:
    """Whether FlopCounterMode (a dispatch mode) or fvcore (a jit trace) is watching."""
    return _get_current_dispatch_mode() is not None or torch.jit.is_tracing()
