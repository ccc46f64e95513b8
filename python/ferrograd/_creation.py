"""Creation functions with PyTorch's and the Array API's spellings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _core
from ._core import Tensor


def _shape(size) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (Sequence, np.ndarray)) and not isinstance(size[0], str):
        return tuple(size[0])
    return tuple(size)


def _grad(t: Tensor, requires_grad) -> Tensor:
    """Marks a freshly created tensor as an autograd leaf when asked."""
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors).
    As in PyTorch, the copy of a tensor is a new leaf: it does not carry ``data``'s history."""
    if isinstance(data, Tensor):
        data = data.detach()
    return _grad(asarray(data, dtype=dtype, device=device, copy=True), requires_grad)


def asarray(obj, /, *, dtype=None, device=None, copy=None) -> Tensor:
    """Array API ``asarray``: shares memory with tensors, numpy arrays, DLPack producers
    and buffer-protocol objects when no conversion is needed (``copy=None``), always
    copies with ``copy=True``, and raises if a copy would be needed with ``copy=False``."""
    # Validates the device (resolving "gpu" to an adapter); CPU-only use never starts the GPU.
    target = _core._full((), 0, dtype=None, device=device).device
    if isinstance(obj, (bytes, bytearray, memoryview)):
        obj = np.asarray(memoryview(obj))
    t = _core._as_tensor(obj, dtype)
    shared = _shares_input(t, obj)
    if dtype is None and target.type != "cpu" and t.dtype == _core.int64 and _python_data(obj):
        # Python ints default to int64, which the GPU does not hold; there the default int
        # is int32 (as for full() and arange()). A numpy int64 array is an explicit dtype:
        # that one is refused by to() rather than narrowed.
        t = _narrow_default_int(t)
    if (device is not None or target.type != "cpu") and t.device != target:
        t, shared = t.to(target), False
    if copy is True and shared:
        return t.clone()
    if copy is False and not shared:
        raise ValueError("asarray(copy=False): the input cannot be used without a copy")
    return t


def _python_data(obj) -> bool:
    return isinstance(obj, (int, list, tuple, range))


def _narrow_default_int(t: Tensor) -> Tensor:
    info = np.iinfo(np.int32)
    if t.numel() and (t.min().item() < info.min or t.max().item() > info.max):
        raise OverflowError(
            "integer values outside int32 for a GPU tensor (the GPU's default int is int32; "
            "it holds no int64)")
    return t.astype(_core.int32)


def _shares_input(t: Tensor, obj) -> bool:
    if t.device.type != "cpu":
        return isinstance(obj, Tensor) and t.shares_memory_with(obj)
    if isinstance(obj, Tensor):
        return t.shares_memory_with(obj)
    if isinstance(obj, np.ndarray):
        return t.dtype != _core.bfloat16 and bool(np.shares_memory(np.asarray(t), obj))
    if hasattr(obj, "__dlpack__"):
        src = _core.from_dlpack(obj)
        return t.shares_memory_with(src) or t.data_ptr() == src.data_ptr()
    return False


def _tensor_like(x) -> Tensor:
    """``x`` itself if it is a tensor, else ``x`` converted (TypeError if it cannot be)."""
    return x if isinstance(x, Tensor) else _core._as_tensor(x)


def _like(x: Tensor, dtype):
    return x.dtype if dtype is None else dtype


def _default(dtype):
    return _core.get_default_dtype() if dtype is None else dtype


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _grad(_core._full(_shape(size), 0.0, dtype=_default(dtype), device=device), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _grad(_core._full(_shape(size), 1.0, dtype=_default(dtype), device=device), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialised in PyTorch; ferrograd's allocator hands out zeroed pages for free."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if isinstance(size, int):
        size = (size,)
    return _grad(_core._full(tuple(size), fill_value, dtype=dtype, device=device), requires_grad)


def zeros_like(x, /, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    x = _tensor_like(x)
    device = x.device if device is None else device
    return zeros(x.shape, dtype=_like(x, dtype), device=device, requires_grad=requires_grad)


def ones_like(x, /, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    x = _tensor_like(x)
    device = x.device if device is None else device
    return ones(x.shape, dtype=_like(x, dtype), device=device, requires_grad=requires_grad)


def empty_like(x, /, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    x = _tensor_like(x)
    device = x.device if device is None else device
    return empty(x.shape, dtype=_like(x, dtype), device=device, requires_grad=requires_grad)


def full_like(x, /, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    x = _tensor_like(x)
    device = x.device if device is None else device
    return full(x.shape, fill_value, dtype=_like(x, dtype), device=device, requires_grad=requires_grad)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if stop is None:
        start, stop = 0, start
    return _grad(_core._arange(start, stop, step, dtype=dtype, device=device), requires_grad)


def linspace(start, stop, /, num=None, *, steps=None, dtype=None, device=None, endpoint=True,
             requires_grad=False) -> Tensor:
    n = steps if num is None else num
    if n is None:
        raise TypeError("linspace() needs the number of points (num= or steps=)")
    return _grad(_core._linspace(_float(start), _float(stop), n, endpoint, dtype=dtype, device=device), requires_grad)


def _float(v) -> float:
    try:
        return float(v)
    except OverflowError as e:
        raise ValueError(f"{v!r} is out of the float range") from e


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _grad(_core._eye(n_rows, n_cols, k, dtype=dtype, device=device), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    return _grad(_core._random("uniform", _shape(size), 0.0, 1.0, dtype, device, generator), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    return _grad(_core._random("normal", _shape(size), 0.0, 1.0, dtype, device, generator), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high) (``randint(high, size)`` as in PyTorch)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() needs a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(size, int):
        size = (size,)
    return _core._random("integers", tuple(size), low, high, dtype, device, generator)


def uniform(low=0.0, high=1.0, size=(), *, generator=None, dtype=None, device=None) -> Tensor:
    if isinstance(size, int):
        size = (size,)
    return _core._random("uniform", tuple(size), low, high, dtype, device, generator)


def normal(mean=0.0, std=1.0, size=(), *, generator=None, dtype=None, device=None) -> Tensor:
    if isinstance(size, int):
        size = (size,)
    return _core._random("normal", tuple(size), mean, std, dtype, device, generator)


def rand_like(x, /, *, dtype=None, device=None) -> Tensor:
    x = _tensor_like(x)
    return rand(x.shape, dtype=_like(x, dtype), device=device)


def randn_like(x, /, *, dtype=None, device=None) -> Tensor:
    x = _tensor_like(x)
    return randn(x.shape, dtype=_like(x, dtype), device=device)
