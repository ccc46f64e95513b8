"""``ferrograd.linalg``: the Array API linear-algebra extension (the members that map to
existing ops) and the norms, with numpy.linalg semantics.

Norms are composed from differentiable primitives (``abs``, ``square``, ``pow``,
``sum``, ``max``/``min``, ``sqrt``), except the spectral ones (``ord=2, -2, 'nuc'`` of
``matrix_norm``), which use :func:`svdvals`, a one-sided Jacobi SVD in Rust.

dtypes: norms of integer and bool tensors are computed in, and returned as, the default
float dtype (the Array API asks for floating input; numpy converts, to float64; we
convert to ``get_default_dtype()``). float16/bfloat16 are computed in float32 and
returned in their own dtype.

Overflow: the 2-norm (and any ``ord > 0`` p-norm) is first computed directly,
``sum(|x|**p) ** (1/p)``. Where that sum overflowed to inf or is so small that squares
may have underflowed (below ``n * tiny / eps``), the norm is recomputed scaled by the
largest ``|x|`` (``m * norm(x / m)``), as LAPACK's ``nrm2`` does; numpy's ``norm`` does
not scale, so ferrograd's result is finite (and accurate) where numpy's overflows to
inf or underflows to 0. Negative ``ord`` is computed directly, as numpy does.
"""

from __future__ import annotations

import builtins
import math
import operator

from . import _core, _math
from ._core import Tensor

__all__ = [
    "cross", "diagonal", "matmul", "matrix_norm", "matrix_transpose", "norm", "outer",
    "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
]

_FINFO = {  # dtype name -> (smallest normal, machine epsilon)
    "float32": (2.0 ** -126, 2.0 ** -23),
    "float64": (2.0 ** -1022, 2.0 ** -52),
}


# ---- helpers -------------------------------------------------------------------------


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _core._as_tensor(x)


def _work(x: Tensor):
    """(tensor to compute on, dtype of the result): ints and bool -> the default float
    dtype; half floats compute in float32."""
    dt = x.dtype
    if dt not in (_core.float32, _core.float64, _core.float16, _core.bfloat16):
        dt = _core.get_default_dtype()
    if dt in (_core.float16, _core.bfloat16):
        return x.astype(_core.float32, copy=False), dt
    return x.astype(dt, copy=False), dt


def _axes(axis, ndim: int, what: str) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, (tuple, list)):
        axis = (axis,)
    out = []
    for a in axis:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise IndexError(f"{what}: axis {a} is out of range for a tensor with {ndim} "
                             "dimension(s)")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: duplicate axes in {tuple(axis)}")
    return tuple(out)


def _reduced_shape(shape, axes, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _extreme(a: Tensor, axes: tuple, keepdims: bool, is_max: bool, what: str) -> Tensor:
    """max/min of non-negative values over ``axes``; an empty max is 0 (numpy's choice
    for norms), an empty min an error."""
    n = math.prod(a.shape[i] for i in axes)
    if n == 0 and not is_max:
        raise ValueError(f"{what}: zero-size reduction (shape {a.shape}, axes {axes}) has no "
                         "minimum")
    if n == 0 or a.size == 0:
        return _core._full(_reduced_shape(a.shape, axes, keepdims), 0, a.dtype)
    return _core._reduce("max" if is_max else "min", a, axes, keepdims)


def _sum(a: Tensor, axes, keepdims: bool) -> Tensor:
    return _core._reduce("sum", a, tuple(axes), keepdims)


def _check_vector_ord(ord, what: str):
    if isinstance(ord, str) or isinstance(ord, builtins.bool):
        raise ValueError(f"{what}: invalid norm order {ord!r} for vectors")
    try:
        p = builtins.float(ord)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: invalid norm order {ord!r} for vectors") from None
    if math.isnan(p):
        raise ValueError(f"{what}: the norm order must not be NaN")
    return p


def _pnorm(w: Tensor, axes: tuple, keepdims: bool, p: builtins.float) -> Tensor:
    """``sum(|w|**p) ** (1/p)`` for ``p > 0``, rescaled by ``max|w|`` where the direct sum
    overflowed or may have underflowed (see the module docstring)."""
    a = _core._unary("abs", w)

    def power(v):
        return _core._unary("square", v) if p == 2 else v ** p

    def root(s):
        return _core._unary("sqrt", s) if p == 2 else s ** (1.0 / p)

    s = _sum(power(a), axes, keepdims)
    r = root(s)
    n = math.prod(w.shape[i] for i in axes)
    if n == 0 or s.size == 0:
        return r
    tiny, eps = _FINFO[w.dtype.name]
    bad = _core._binary("logical_or", _core._unary("isinf", s),
                        _core._binary("less", s, n * tiny / eps))
    if not _core._reduce("any", bad).item():
        return r
    m = _core._reduce("max", a, axes, True)
    ok = _core._binary("logical_and", _core._unary("isfinite", m), _core._binary("greater", m, 0))
    m = _core.where(ok, m, _core._full((), 1, m.dtype))
    scaled = root(_sum(power(_core._binary("divide", a, m)), axes, True)) * m
    if not keepdims and axes:
        scaled = scaled.squeeze(axes)
    return _core.where(bad, scaled, r)


def _vector_norm(w: Tensor, axes: tuple, keepdims: bool, p: builtins.float, what: str):
    """The norm of a float32/float64 tensor ``w`` (validated axes and order)."""
    if p == math.inf or p == -math.inf:
        return _extreme(_core._unary("abs", w), axes, keepdims, p > 0, what)
    if p == 0:
        return _core.count_nonzero(w, axes, keepdims).astype(w.dtype)
    if p == 1:
        return _sum(_core._unary("abs", w), axes, keepdims)
    if p > 0:
        return _pnorm(w, axes, keepdims, p)
    return _sum(_core._unary("abs", w) ** p, axes, keepdims) ** (1.0 / p)


# ---- norms ---------------------------------------------------------------------------


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Array API ``vector_norm``: the ``ord``-norm over ``axis`` (all axes if None, an int
    or a tuple), treating those axes as one flattened vector.

    ``ord``: any real number, ``inf`` (max ``|x|``), ``-inf`` (min ``|x|``) or 0 (the
    number of non-zeros). Integer and bool inputs give the default float dtype. An empty
    vector has norm 0 (``ord=-inf`` raises; negative ``ord`` gives inf, as numpy).
    """
    x = _tensor(x)
    axes = _axes(axis, x.ndim, "vector_norm")
    p = _check_vector_ord(ord, "vector_norm")
    w, out_dt = _work(x)
    return _vector_norm(w, axes, builtins.bool(keepdims), p, "vector_norm").astype(
        out_dt, copy=False)


def _matrix_norm(w: Tensor, ord, keepdims: bool, what: str) -> Tensor:
    """Matrix norm over the last two axes of a float32/float64 tensor."""
    nd = w.ndim
    rows, cols = nd - 2, nd - 1
    batch = tuple(w.shape[:-2])
    if isinstance(ord, str):
        if ord == "fro":
            return _pnorm(w, (rows, cols), keepdims, 2.0)
        if ord != "nuc":
            raise ValueError(f"{what}: invalid norm order {ord!r} for matrices")
        r = _sum(_core._svdvals(w), (nd - 2,), False)
    elif isinstance(ord, builtins.bool) or ord not in (1, -1, 2, -2, math.inf, -math.inf):
        raise ValueError(f"{what}: invalid norm order {ord!r} for matrices (use 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf)")
    elif ord in (2, -2):
        r = _extreme(_core._svdvals(w), (nd - 2,), False, ord > 0, what)
    else:
        # 1: largest column sum of |x|; inf: largest row sum (min for the negatives).
        s = _sum(_core._unary("abs", w), (rows if ord in (1, -1) else cols,), False)
        r = _extreme(s, (nd - 2,), False, ord > 0, what)
    return r.reshape(batch + (1, 1)) if keepdims else r


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Array API ``matrix_norm`` over the last two axes.

    ``ord``: ``'fro'`` (Frobenius), ``'nuc'`` (sum of singular values), 1 / -1 (max / min
    column sum of ``|x|``), inf / -inf (max / min row sum), 2 / -2 (largest / smallest
    singular value). The singular values come from :func:`svdvals` (float64 Jacobi);
    a matrix holding inf or NaN gives NaN for those three. Integer inputs give the
    default float dtype.
    """
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expected at least 2 dimensions, got shape {x.shape}")
    w, out_dt = _work(x)
    return _matrix_norm(w, ord, builtins.bool(keepdims), "matrix_norm").astype(out_dt, copy=False)


def norm(x, ord=None, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """numpy's ``linalg.norm`` (also PyTorch's ``linalg.norm``, with ``dim=``/``keepdim=``).

    * ``axis=None``: with ``ord=None`` the 2-norm of the flattened input; otherwise the
      input must be 1-D (vector norm) or 2-D (matrix norm).
    * ``axis`` an int (or 1-tuple): vector norms along it (``ord`` a number, default 2).
    * ``axis`` a 2-tuple: matrix norms over those axes (``ord`` as in
      :func:`matrix_norm`, default ``'fro'``).

    Integer inputs give the default float dtype.
    """
    if axis is not None and dim is not None:
        raise TypeError("norm: pass either axis= or dim=, not both")
    axis = dim if axis is None else axis
    keep = builtins.bool(keepdims or keepdim)
    x = _tensor(x)
    if axis is None:
        if ord is None:
            return vector_norm(x, keepdims=keep)
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r} and no axis the input must be 1-D or "
                             f"2-D, got shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = _axes(axis, x.ndim, "norm")
    if len(axes) == 1:
        p = 2.0 if ord is None else _check_vector_ord(ord, "norm")
        return vector_norm(x, axis=axes, keepdims=keep, ord=p)
    if len(axes) == 2:
        r = matrix_norm(_math_moveaxis(x, axes), ord="fro" if ord is None else ord)
        if keep:
            for a in sorted(axes):
                r = r.unsqueeze(a)
        return r
    raise ValueError(f"norm: axis must name 1 or 2 dimensions, got {axis}")


def _math_moveaxis(x: Tensor, axes: tuple) -> Tensor:
    rest = [i for i in range(x.ndim) if i not in axes]
    return x.permute(rest + list(axes))


def torch_norm(input, p="fro", dim=None, keepdim=False, dtype=None):  # noqa: A002
    """PyTorch's ``torch.norm`` / ``Tensor.norm``: ``p`` a number (vector norm over
    ``dim``, all dims if None), ``'fro'`` (the 2-norm over ``dim``) or ``'nuc'`` (nuclear
    norm over the 2 dims ``dim``, or of a 2-D input). ``dtype`` casts the input first.
    Integer inputs give the default float dtype."""
    x = _tensor(input)
    if dtype is not None:
        x = x.astype(dtype, copy=False)
    if isinstance(p, str):
        if p == "fro":
            return vector_norm(x, axis=dim, keepdims=keepdim, ord=2)
        if p == "nuc":
            if dim is None and x.ndim != 2:
                raise ValueError(f"norm: p='nuc' needs a 2-D input or two dims, got shape "
                                 f"{x.shape}")
            return norm(x, "nuc", axis=(0, 1) if dim is None else dim, keepdims=keepdim)
        raise ValueError(f"norm: invalid p={p!r} (a number, 'fro' or 'nuc')")
    return vector_norm(x, axis=dim, keepdims=keepdim, ord=2 if p is None else p)


def svdvals(x, /):
    """Singular values of each matrix in ``x`` (the last two axes), descending, shape
    ``(..., min(m, n))``. Computed in float64 by one-sided Jacobi (float32 and the half
    types are cast back); integer inputs give the default float dtype; a matrix holding
    inf or NaN gives NaN."""
    x = _tensor(x)
    if x.dtype not in (_core.float32, _core.float64, _core.float16, _core.bfloat16):
        x = x.astype(_core.get_default_dtype())
    return _core._svdvals(x)


# ---- the rest of the extension --------------------------------------------------------


def matmul(x1, x2, /):
    return _math.matmul(x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    return _math.tensordot(x1, x2, axes=axes)


def vecdot(x1, x2, /, *, axis=-1):
    return _math.vecdot(x1, x2, axis=axis)


def matrix_transpose(x, /):
    """The transpose of each matrix (the last two axes swapped): a view."""
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: expected at least 2 dimensions, got shape {x.shape}")
    return x.mT


def outer(x1, x2, /):
    """Outer product of two 1-D tensors."""
    a, b = _tensor(x1), _tensor(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return _math.outer(a, b)


def diagonal(x, /, *, offset=0):
    """The ``offset`` diagonal of each matrix (the last two axes): a view."""
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected at least 2 dimensions, got shape {x.shape}")
    return x.diagonal(offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the ``offset`` diagonal of each matrix (the last two axes); integer sums
    widen as in ``sum``."""
    return _core._reduce("sum", diagonal(x, offset=offset), -1, False, dtype)


def cross(x1, x2, /, *, axis=-1):
    """Cross product of 3-vectors along ``axis`` (after broadcasting the inputs)."""
    a, b = _tensor(x1), _tensor(x2)
    shapes = (a.shape, b.shape)
    shape = _core.broadcast_shapes(a.shape, b.shape)
    a, b = a.broadcast_to(shape), b.broadcast_to(shape)
    nd = len(shape)
    if not -nd <= axis < nd:
        raise IndexError(f"cross: axis {axis} is out of range for shape {tuple(shape)}")
    if shape[axis] != 3:
        raise ValueError(f"cross: axis {axis} must have size 3, got shapes {shapes[0]} and "
                         f"{shapes[1]}")
    a0, a1, a2 = (a.select(axis, i) for i in range(3))
    b0, b1, b2 = (b.select(axis, i) for i in range(3))
    c = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    return _core.stack(c, axis)


Tensor.norm = torch_norm
