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


def describe_call(fn_path: str, args, kwargs) -> str:
    """e.g. "processors.apply_temperature(<tensor (4, 30) torch.float32>, 0.0)"."""
    def show(x):
        return f"<tensor {tuple(x.shape)} {x.dtype}>" if isinstance(x, torch.Tensor) else repr(x)
    return f"{fn_path}({', '.join([*map(show, args), *(f'{k}={show(v)}' for k, v in kwargs.items())])})"


def assert_raises_value_error(fn_path: str, *args, **kwargs) -> None:
    """llmlab's `fn_path` ("module.function") raises ValueError on these arguments."""
    from tests.adapters import call
    result = call("raises", fn_path, *args, **kwargs)
    assert result is not None and result[0] == "ValueError", \
        f"{describe_call(fn_path, args, kwargs)} must raise ValueError, got {': '.join(result or ['no error'])}"


def assert_does_not_mutate(fn_path: str, *args, **kwargs) -> None:
    """llmlab's `fn_path` leaves its tensor arguments unchanged."""
    from tests.adapters import does_not_mutate
    assert does_not_mutate(fn_path, *args, **kwargs), \
        f"{describe_call(fn_path, args, kwargs)} changed its input tensors: return a new tensor instead"


def assert_value_error_names(fn_path: str, argument: str, value, *args, **kwargs) -> None:
    """llmlab's `fn_path` raises ValueError on these arguments, with a message naming `argument` and `value`."""
    from tests.adapters import call
    result = call("raises", fn_path, *args, **kwargs)
    call_text = describe_call(fn_path, args, kwargs)
    assert result is not None and result[0] == "ValueError", f"{call_text} must raise ValueError, got {result}"
    assert argument in result[1] and (repr(value) in result[1] or str(value) in result[1]), \
        f"{call_text}: the message {result[1]!r} must name the argument {argument} and its value {value!r}"
