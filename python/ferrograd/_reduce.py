"""Reductions with numpy/Array API signatures (``axis=``, ``keepdims=``); PyTorch's
``dim=``/``keepdim=`` are accepted too. Where the two libraries disagree, the namespace
function follows the Array API and the Tensor method follows PyTorch:

* ``fg.max(x, axis=1)`` returns values; ``x.max(1)`` / ``fg.max(x, dim=1)`` return
  ``(values, indices)`` as PyTorch does.
* ``fg.var``/``fg.std`` default to ``correction=0``; ``x.var()``/``x.std()`` to 1.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from . import _core
from ._core import Tensor
from ._gather import take_along_axis

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _axis(axis, dim):
    if axis is not None and dim is not None:
        raise TypeError("pass either axis= or dim=, not both")
    return dim if axis is None else axis


def _keep(keepdims, keepdim):
    return builtins.bool(keepdims or keepdim)


def sum(x, /, axis=None, *, dtype=None, keepdims=False, dim=None, keepdim=False):  # noqa: A001
    return _core._reduce("sum", x, _axis(axis, dim), _keep(keepdims, keepdim), dtype)


def prod(x, /, axis=None, *, dtype=None, keepdims=False, dim=None, keepdim=False):
    return _core._reduce("prod", x, _axis(axis, dim), _keep(keepdims, keepdim), dtype)


def _extreme(name, x, axis, keepdims, dim, keepdim):
    if dim is not None and axis is None and isinstance(dim, int):
        keep = _keep(keepdims, keepdim)
        indices = _core._arg_extreme(x, dim, keep, name == "max")
        if isinstance(x, _core.Tensor) and x.ndim and x.requires_grad and _core.is_grad_enabled():
            # Read the values at the returned indices, so that the gradient goes to that
            # element (PyTorch's rule for max/min with dim) rather than split among ties.
            values = take_along_axis(x, indices if keep else indices.unsqueeze(dim), axis=dim)
            return ValuesIndices(values if keep else values.squeeze(dim), indices)
        return ValuesIndices(_core._reduce(name, x, dim, keep), indices)
    return _core._reduce(name, x, _axis(axis, dim), _keep(keepdims, keepdim))


def max(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):  # noqa: A001
    return _extreme("max", x, axis, keepdims, dim, keepdim)


def min(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):  # noqa: A001
    return _extreme("min", x, axis, keepdims, dim, keepdim)


def amax(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core._reduce("max", x, _axis(axis, dim), _keep(keepdims, keepdim))


def amin(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core._reduce("min", x, _axis(axis, dim), _keep(keepdims, keepdim))


def all(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):  # noqa: A001
    return _core._reduce("all", x, _axis(axis, dim), _keep(keepdims, keepdim))


def any(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):  # noqa: A001
    return _core._reduce("any", x, _axis(axis, dim), _keep(keepdims, keepdim))


def mean(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False, dtype=None):
    r = _core.mean(x, _axis(axis, dim), _keep(keepdims, keepdim))
    return r if dtype is None else r.astype(dtype)


def var(x, /, axis=None, *, correction=0.0, keepdims=False, dim=None, keepdim=False,
        unbiased=None):
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    return _core._var(x, _axis(axis, dim), float(correction), _keep(keepdims, keepdim), False)


def std(x, /, axis=None, *, correction=0.0, keepdims=False, dim=None, keepdim=False,
        unbiased=None):
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    return _core._var(x, _axis(axis, dim), float(correction), _keep(keepdims, keepdim), True)


def count_nonzero(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core.count_nonzero(x, _axis(axis, dim), _keep(keepdims, keepdim))


def logsumexp(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core.logsumexp(x, _axis(axis, dim), _keep(keepdims, keepdim))


def argmax(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core._arg_extreme(x, _axis(axis, dim), _keep(keepdims, keepdim), True)


def argmin(x, /, axis=None, *, keepdims=False, dim=None, keepdim=False):
    return _core._arg_extreme(x, _axis(axis, dim), _keep(keepdims, keepdim), False)


def _cast(x, dtype):
    """``x`` in ``dtype`` (a recorded cast, so gradients flow back through it)."""
    if dtype is None:
        return x
    x = _core._as_tensor(x)
    return x.astype(dtype)


def softmax(x, /, axis=None, *, dim=None, dtype=None):
    ax = _axis(axis, dim)
    x = _cast(x, dtype)
    return _core._softmax(x, -1 if ax is None else ax, False)


def log_softmax(x, /, axis=None, *, dim=None, dtype=None):
    ax = _axis(axis, dim)
    x = _cast(x, dtype)
    return _core._softmax(x, -1 if ax is None else ax, True)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False, dim=None):
    r = _core._cumulative(x, _axis(axis, dim), dtype, False)
    return _with_initial(r, _axis(axis, dim), include_initial, 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False, dim=None):
    r = _core._cumulative(x, _axis(axis, dim), dtype, True)
    return _with_initial(r, _axis(axis, dim), include_initial, 1)


def _with_initial(r, axis, include, value):
    if not include:
        return r
    ax = 0 if axis is None else axis
    shape = list(r.shape)
    shape[ax] = 1
    return _core.concat([_core._full(tuple(shape), value, r.dtype, r.device), r], ax)


def cumsum(x, dim=None, *, dtype=None, axis=None):
    return cumulative_sum(x, axis=_axis(axis, dim), dtype=dtype)


def cumprod(x, dim=None, *, dtype=None, axis=None):
    return cumulative_prod(x, axis=_axis(axis, dim), dtype=dtype)


FUNCTIONS = {f.__name__: f for f in (
    sum, prod, max, min, amax, amin, all, any, mean, var, std, count_nonzero, logsumexp,
    argmax, argmin, softmax, log_softmax, cumulative_sum, cumulative_prod, cumsum, cumprod,
)}


def install_methods() -> None:
    """Tensor methods with PyTorch's signatures (positional ``dim``, ``keepdim``)."""

    def method(fn):
        def m(self, dim=None, keepdim=False, **kw):
            return fn(self, dim=dim, keepdim=keepdim, **kw)

        m.__name__ = fn.__name__
        return m

    for fn in (sum, prod, max, min, amax, amin, all, any, mean, count_nonzero, logsumexp,
               argmax, argmin):
        setattr(Tensor, fn.__name__, method(fn))

    def var_m(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        c = (1.0 if unbiased else 0.0) if correction is None else correction
        return var(self, dim=dim, correction=c, keepdim=keepdim)

    def std_m(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        c = (1.0 if unbiased else 0.0) if correction is None else correction
        return std(self, dim=dim, correction=c, keepdim=keepdim)

    Tensor.var, Tensor.std = var_m, std_m
    Tensor.softmax = lambda self, dim=-1: softmax(self, dim=dim)
    Tensor.log_softmax = lambda self, dim=-1: log_softmax(self, dim=dim)
    Tensor.cumsum = lambda self, dim=0, dtype=None: cumsum(self, dim, dtype=dtype)
    Tensor.cumprod = lambda self, dim=0, dtype=None: cumprod(self, dim, dtype=dtype)


def sort(x, /, axis=-1, *, descending=False, stable=True, dim=None):
    """Array API ``sort``: the sorted values (stable; NaNs last, or first if descending)."""
    return _core._sort(x, _axis(axis, dim) if dim is not None else axis, descending)[0]


def argsort(x, /, axis=-1, *, descending=False, stable=True, dim=None):
    return _core._sort(x, _axis(axis, dim) if dim is not None else axis, descending)[1]


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (PyTorch's name)
    """PyTorch's ``topk``: the ``k`` largest (or smallest) values and their indices."""
    values, indices = _core._sort(x, dim, largest)
    n = values.shape[dim] if values.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for a dimension of size {n}")
    return ValuesIndices(values.narrow(dim, 0, k), indices.narrow(dim, 0, k))


def searchsorted(x1, x2, /, *, side="left", sorter=None, right=None):
    """numpy's ``searchsorted`` on a 1-D sorted ``x1`` (``right=True`` as in PyTorch)."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        x1 = _core._as_tensor(x1)[_core._as_tensor(sorter)]
    return _core._searchsorted(x1, x2, builtins.bool(right) or side == "right")


UniqueAll = namedtuple("UniqueAll", ["values", "indices", "inverse_indices", "counts"])
UniqueCounts = namedtuple("UniqueCounts", ["values", "counts"])
UniqueInverse = namedtuple("UniqueInverse", ["values", "inverse_indices"])


def unique_values(x, /):
    return _core._unique(x)[0]


def unique_counts(x, /):
    values, _, counts = _core._unique(x)
    return UniqueCounts(values, counts)


def unique_inverse(x, /):
    values, inverse, _ = _core._unique(x)
    return UniqueInverse(values, inverse)


def unique_all(x, /):
    """Values, first-occurrence indices, inverse indices and counts."""
    values, inverse, counts = _core._unique(x)
    flat = _core._as_tensor(inverse).reshape(-1)
    order = _core._sort(flat, 0, False)[1]
    starts = cumulative_sum(counts, include_initial=True)[:-1]
    return UniqueAll(values, order[starts], inverse, counts)


FUNCTIONS.update({f.__name__: f for f in (
    sort, argsort, topk, searchsorted, unique_values, unique_counts, unique_inverse, unique_all,
)})
_install_reductions = install_methods


def install_methods() -> None:  # noqa: F811  (extends the first definition)
    _install_reductions()

    def sort_m(self, dim=-1, descending=False, stable=False):
        return ValuesIndices(*_core._sort(self, dim, descending))

    Tensor.sort = sort_m
    Tensor.argsort = lambda self, dim=-1, descending=False, stable=False: _core._sort(
        self, dim, descending)[1]
    Tensor.topk = topk
