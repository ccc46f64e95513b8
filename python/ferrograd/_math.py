"""Elementwise functions: Array API / numpy names, PyTorch aliases, and Tensor methods.

Every function is a thin shim over ``_core._binary`` / ``_core._unary`` (one Rust entry
point each, which holds the op table); ``out=`` writes into an existing tensor.
"""

from __future__ import annotations

from . import _core
from ._core import Tensor

BINARY = (
    "add subtract multiply divide floor_divide remainder pow maximum minimum atan2 hypot "
    "copysign nextafter logaddexp equal not_equal less less_equal greater greater_equal "
    "logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor "
    "bitwise_left_shift bitwise_right_shift"
).split()

UNARY = (
    "negative positive abs sign square sqrt rsqrt reciprocal exp exp2 expm1 log log1p log2 "
    "log10 sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh erf floor ceil trunc "
    "round isnan isinf isfinite signbit logical_not bitwise_invert relu sigmoid softplus silu"
).split()

# Alternative spellings (numpy's arc*, PyTorch's short names) -> canonical name.
ALIASES = {
    "sub": "subtract", "mul": "multiply", "div": "divide", "true_divide": "divide",
    "arctan2": "atan2", "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
    "gt": "greater", "ge": "greater_equal", "neg": "negative", "absolute": "abs",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "bitwise_not": "bitwise_invert",
    "left_shift": "bitwise_left_shift", "right_shift": "bitwise_right_shift",
}


def _binary_fn(name: str):
    def f(x1, x2, /, *, out=None):
        return _core._binary(name, x1, x2, out)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}`` with broadcasting and type promotion."
    return f


def _unary_fn(name: str):
    def f(x, /, *, out=None):
        return _core._unary(name, x, out)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}``."
    return f


FUNCTIONS = {name: _binary_fn(name) for name in BINARY}
FUNCTIONS.update({name: _unary_fn(name) for name in UNARY})
FUNCTIONS.update({alias: FUNCTIONS[name] for alias, name in ALIASES.items()})


def gelu(x, /, approximate: str = "none"):
    """GELU, exact (``approximate='none'``) or PyTorch's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _core._unary("gelu" if approximate == "none" else "gelu_tanh", x)


def leaky_relu(x, /, negative_slope: float = 0.01):
    return _core._unary("leaky_relu", x, None, float(negative_slope))


def elu(x, /, alpha: float = 1.0):
    return _core._unary("elu", x, None, float(alpha))


def where(condition, x1, x2, /):
    return _core.where(condition, x1, x2)


def clip(x, /, min=None, max=None, *, out=None):  # noqa: A002 (Array API names)
    return _core.clip(x, min, max, out)


def matmul(x1, x2, /):
    """numpy's ``matmul``: batched, broadcasting, 1-D operands promoted and squeezed."""
    return _core.matmul(x1, x2)


def vecdot(x1, x2, /, *, axis=-1):
    """Array API ``vecdot``: sum of products along ``axis`` (broadcasting the rest)."""
    from . import _reduce  # noqa: PLC0415  (circular at import time)

    return _reduce.sum(_core._binary("multiply", x1, x2), axis=axis)


def outer(x1, x2, /):
    a = _core._as_tensor(x1).reshape(-1, 1)
    b = _core._as_tensor(x2).reshape(1, -1)
    return _core._binary("multiply", a, b)


def tensordot(x1, x2, /, *, axes=2):
    """numpy's ``tensordot``: contract the last ``axes`` dims of x1 with the first of x2
    (or the listed axes), as one matmul over reshaped operands."""
    a, b = _core._as_tensor(x1), _core._as_tensor(x2)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [x % a.ndim for x in ax_a] if a.ndim else ax_a
    ax_b = [x % b.ndim for x in ax_b] if b.ndim else ax_b
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: axes {axes} do not match shapes {a.shape} and {b.shape}")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = 1
    for i in ax_a:
        k *= a.shape[i]
    am = a.permute(free_a + ax_a).reshape(-1, k)
    bm = b.permute(ax_b + free_b).reshape(k, -1)
    out_shape = [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b]
    return _core.matmul(am, bm).reshape(out_shape)


def dot(x1, x2, /):
    return _core.matmul(x1, x2)


FUNCTIONS.update(gelu=gelu, leaky_relu=leaky_relu, elu=elu, where=where, clip=clip, clamp=clip,
                 matmul=matmul, vecdot=vecdot, outer=outer, tensordot=tensordot, dot=dot,
                 mm=matmul, bmm=matmul)


def _method(fn):
    def m(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    m.__name__ = fn.__name__
    m.__doc__ = fn.__doc__
    return m


def _inplace_method(name: str, binary: bool):
    if binary:
        def m(self, other):
            return _core._binary(name, self, other, self)
    else:
        def m(self):
            return _core._unary(name, self, self)
    return m


def install_methods() -> None:
    """Tensor methods: ``t.exp()``, ``t.add(u)``, in-place ``t.add_(u)`` and friends."""
    for name, fn in FUNCTIONS.items():
        if name in ("where",):
            continue
        setattr(Tensor, name, _method(fn))
    for name in BINARY + [a for a, c in ALIASES.items() if c in BINARY]:
        setattr(Tensor, name + "_", _inplace_method(ALIASES.get(name, name), True))
    for name in UNARY + [a for a, c in ALIASES.items() if c in UNARY]:
        setattr(Tensor, name + "_", _inplace_method(ALIASES.get(name, name), False))

    def clamp_(self, min=None, max=None):  # noqa: A002
        return _core.clip(self, min, max, self)

    Tensor.clamp_ = Tensor.clip_ = clamp_
    Tensor.where = lambda self, condition, other: _core.where(condition, self, other)
