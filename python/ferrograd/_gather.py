"""Gather/scatter primitives: numpy's take/take_along_axis, PyTorch's index_select,
gather, scatter_add/index_add and one_hot. Gathers are advanced indexing (one Rust
gather kernel); accumulating scatters run the Rust scatter-add kernel."""

from __future__ import annotations

from . import _core
from ._core import Tensor


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else _core._as_tensor(x)


def _axis_index(ndim: int, axis: int, idx):
    axis = axis % ndim if ndim else 0
    return (slice(None),) * axis + (idx,)


def take(x, indices, /, *, axis=None):
    """numpy's ``take``: ``indices`` along ``axis`` (of the flattened tensor if None)."""
    x, idx = _t(x), _t(indices)
    if axis is None:
        return x.reshape(-1)[idx]
    return x[_axis_index(x.ndim, axis, idx)]


def index_select(x, dim, index):
    index = _t(index)
    if index.ndim != 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
    return take(x, index, axis=dim)


def _grids(shape, axis, idx):
    """Index tuple selecting ``idx`` along ``axis`` and position i along every other dim."""
    nd = len(shape)
    parts = []
    for d in range(nd):
        if d == axis:
            parts.append(idx)
        else:
            view = [1] * nd
            view[d] = idx.shape[d]
            parts.append(_core._arange(0, idx.shape[d], 1).reshape(view))
    return tuple(parts)


def take_along_axis(x, indices, /, *, axis=-1):
    """numpy's ``take_along_axis`` (the index broadcasts against ``x`` off ``axis``)."""
    x, idx = _t(x), _t(indices)
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices need {x.ndim} dims, got shape {idx.shape}")
    ax = axis % x.ndim
    shape = list(_core.broadcast_shapes(tuple(s for i, s in enumerate(x.shape) if i != ax),
                                        tuple(s for i, s in enumerate(idx.shape) if i != ax)))
    shape.insert(ax, idx.shape[ax])
    idx = idx.broadcast_to(tuple(shape))
    return x[_grids(x.shape, ax, idx)]


def gather(x, dim, index):
    """PyTorch's ``gather``: ``out[i][j] = x[index[i][j]][j]`` for dim 0 (no broadcasting)."""
    x, idx = _t(x), _t(index)
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index needs {x.ndim} dims, got shape {idx.shape}")
    return x[_grids(x.shape, dim % x.ndim, idx)]


def scatter_add(x, dim, index, src):
    """Out-of-place ``scatter_add``: a copy of ``x`` with ``src`` accumulated at ``index``."""
    out = _t(x).clone()
    _core._scatter_add(out, dim, index, src)
    return out


def index_add(x, dim, index, source, *, alpha=1):
    """``x`` with ``alpha * source`` slices added at ``index`` along ``dim`` (duplicates add up)."""
    out = _t(x).clone()
    return _index_add_(out, dim, index, source, alpha=alpha)


def _index_add_(out, dim, index, source, *, alpha=1):
    source, index = _t(source), _t(index)
    if alpha != 1:
        source = source * alpha
    dim = dim % out.ndim
    view = [1] * source.ndim
    view[dim] = index.shape[0]
    full = index.reshape(view).broadcast_to(source.shape)
    _core._scatter_add(out, dim, full, source)
    return out


def one_hot(x, num_classes=-1):
    """PyTorch's ``one_hot``: int64 tensor with a trailing class dim."""
    x = _t(x)
    if num_classes < 0:
        num_classes = int(x.max().item()) + 1 if x.numel() else 0
    classes = _core._arange(0, num_classes, 1, None, x.device)
    # int32 on the GPU, which holds no int64 (as arange there).
    return (x.unsqueeze(-1) == classes).astype(_core.int32 if x.device.type == "gpu" else _core.int64)


FUNCTIONS = {f.__name__: f for f in (
    take, index_select, take_along_axis, gather, scatter_add, index_add, one_hot,
)}


def install_methods() -> None:
    def scatter_add_(self, dim, index, src):
        _core._scatter_add(self, dim, index, src)
        return self

    Tensor.scatter_add_ = scatter_add_
    Tensor.scatter_add = scatter_add
    Tensor.index_add_ = _index_add_
    Tensor.index_add = index_add
    Tensor.index_select = index_select
    Tensor.gather = gather
    Tensor.take = lambda self, index: take(self, index)
