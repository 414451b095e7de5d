"""Assertions whose messages say what is wrong first: the type, then the dtype, the shape, and the first value
that differs (llmlab.check shows these messages)."""
import torch


def assert_tensor(got, dtype: torch.dtype, shape: tuple, what: str) -> None:
    """`got` is a tensor of this dtype and shape."""
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert tuple(got.shape) == tuple(shape), f"{what}: shape {tuple(got.shape)}, expected {tuple(shape)}"


def assert_tensor_equal(got, expected: torch.Tensor, what: str) -> None:
    """`got` equals `expected` exactly: the same dtype, shape and values."""
    assert_tensor(got, expected.dtype, expected.shape, what)
    differ = (got != expected).nonzero()
    if len(differ):
        index = tuple(differ[0].tolist())
        raise AssertionError(f"{what}: {len(differ)} of {got.numel()} values differ; the first at index "
                             f"{list(index)}: got {got[index].item()}, expected {expected[index].item()}")
