"""Manipulation functions composed from views and the Rust copy kernels."""

from __future__ import annotations

import builtins

from . import _core
from ._core import Tensor


def _axis(axis, dim, default=0):
    if axis is not None and dim is not None:
        raise TypeError("pass either axis= or dim=, not both")
    return default if axis is None and dim is None else (axis if dim is None else dim)


def split(x: Tensor, indices_or_sections, /, axis=None, *, dim=None) -> list:
    """numpy's ``split`` with ``axis=`` (an int is a number of equal sections, a list
    holds split points); PyTorch's ``split`` with ``dim=`` (an int is a chunk size, a
    list holds chunk sizes)."""
    if dim is not None:
        return split_sizes(x, indices_or_sections, dim)
    ax = _axis(axis, None)
    n = x.shape[ax]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0 or n % k:
            raise ValueError(f"split: axis of size {n} cannot be split into {k} equal sections")
        points = [n // k * i for i in range(1, k)]
    else:
        points = [int(p) for p in indices_or_sections]
    bounds = [0, *points, n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        # numpy slices x[lo:hi] with Python's rules (negative points count from the end).
        start, stop, _ = slice(lo, hi).indices(n)
        out.append(x.narrow(ax, start, builtins.max(stop - start, 0)))
    return out


def split_sizes(x: Tensor, split_size_or_sections, dim=0) -> list:
    """PyTorch's ``split``: chunks of ``split_size`` (the last may be smaller) or of the
    listed sizes, which must add up to the axis length."""
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split size must be positive, got {size}")
        sizes = [builtins.min(size, n - i) for i in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to the axis size {n}")
    out, at = [], 0
    for s in sizes:
        out.append(x.narrow(dim, at, s))
        at += s
    return out


def chunk(x: Tensor, chunks: int, dim=0) -> list:
    """PyTorch's ``chunk``: at most ``chunks`` pieces of equal size (last smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[dim]
    size = -(-n // chunks) if n else 1
    return split_sizes(x, size, dim)


def array_split(x: Tensor, sections: int, axis=0) -> list:
    n = x.shape[axis]
    base, extra = divmod(n, sections)
    sizes = [base + (1 if i < extra else 0) for i in range(sections)]
    return split_sizes(x, sizes, axis)


def unstack(x: Tensor, /, *, axis=None, dim=None) -> tuple:
    ax = _axis(axis, dim)
    return tuple(x.select(ax, i) for i in range(x.shape[ax]))


def unbind(x: Tensor, dim=0) -> tuple:
    return unstack(x, axis=dim)


def broadcast_arrays(*arrays) -> list:
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    ts = [_core._as_tensor(a) for a in arrays]
    shape = _core.broadcast_shapes(*[t.shape for t in ts])
    return [t.broadcast_to(shape) for t in ts]


def broadcast_tensors(*tensors) -> list:
    return broadcast_arrays(*tensors)


def meshgrid(*arrays, indexing="xy") -> list:
    """Array API ``meshgrid`` (default ``indexing='xy'``, as numpy); the results are
    broadcast views of the inputs, as in PyTorch."""
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [_core._as_tensor(a).reshape(-1) for a in arrays]
    n = len(ts)
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        view = [1] * n
        view[pos] = t.shape[0]
        out.append(t.reshape(view).broadcast_to(tuple(shape)))
    return out


def moveaxis(x: Tensor, source, destination, /) -> Tensor:
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    nd = x.ndim
    src = [s % nd if -nd <= s < nd else s for s in src]
    dst = [d % nd if -nd <= d < nd else d for d in dst]
    for a in src + dst:
        if not 0 <= a < nd:
            raise IndexError(f"moveaxis: axis {a} is out of range for a tensor with {nd} dimension(s)")
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: invalid source {source} / destination {destination}")
    order = [a for a in range(nd) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.permute(order)


def flatten(x: Tensor, start_dim=0, end_dim=-1) -> Tensor:
    return x.flatten(start_dim, end_dim)


def unflatten(x: Tensor, dim, sizes) -> Tensor:
    return x.unflatten(dim, sizes)


def permute_dims(x: Tensor, /, axes) -> Tensor:
    return x.permute(tuple(axes))


def permute(x: Tensor, dims) -> Tensor:
    return x.permute(tuple(dims))


def transpose(x: Tensor, dim0=None, dim1=None, /, *, axes=None) -> Tensor:
    """PyTorch's ``transpose(x, dim0, dim1)``; numpy's ``transpose(x, axes=None)``."""
    if dim0 is not None and dim1 is not None:
        return x.transpose(dim0, dim1)
    if axes is None and dim0 is not None:
        axes = dim0
    return x.T if axes is None else x.permute(tuple(axes))


def swapaxes(x: Tensor, axis1, axis2) -> Tensor:
    return x.transpose(axis1, axis2)


def reshape(x: Tensor, /, shape, *, copy=None) -> Tensor:
    if copy is True:
        return x.clone().reshape(shape)
    if copy is False:
        return x.view(shape)
    return x.reshape(shape)


def squeeze(x: Tensor, /, axis=None, *, dim=None) -> Tensor:
    return x.squeeze(_axis(axis, dim, None))


def expand_dims(x: Tensor, /, axis=0) -> Tensor:
    if isinstance(axis, int):
        return x.unsqueeze(axis)
    nd = x.ndim + len(axis)
    for a in sorted(a % nd for a in axis):
        x = x.unsqueeze(a)
    return x


def unsqueeze(x: Tensor, dim) -> Tensor:
    return x.unsqueeze(dim)


def flip(x: Tensor, /, axis=None, *, dims=None) -> Tensor:
    ax = dims if axis is None else axis
    if ax is None:
        return x.flip()
    return x.flip(ax if isinstance(ax, (tuple, list)) else (ax,))


def narrow(x: Tensor, dim, start, length) -> Tensor:
    return x.narrow(dim, start, length)


def diagonal(x: Tensor, /, offset=0, axis1=None, axis2=None, *, dim1=None, dim2=None) -> Tensor:
    """Array API ``diagonal`` works on the last two axes; numpy/PyTorch default to 0 and 1."""
    a1 = dim1 if axis1 is None else axis1
    a2 = dim2 if axis2 is None else axis2
    if a1 is None and a2 is None:
        a1, a2 = 0, 1
    return x.diagonal(offset, a1, a2)


def broadcast_to(x: Tensor, /, shape) -> Tensor:
    return _core._as_tensor(x).broadcast_to(tuple(shape))


def cat(tensors, dim=0, *, axis=None) -> Tensor:
    return _core.concat(tensors, _axis(axis, None, dim))


def atleast_1d(x: Tensor) -> Tensor:
    return x.reshape(1) if x.ndim == 0 else x


def contiguous(x: Tensor) -> Tensor:
    return x.contiguous()


def clone(x: Tensor) -> Tensor:
    return x.clone()
