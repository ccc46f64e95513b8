"""The tensor ops that ``nn`` composes, taken from the package's implementation modules
rather than the ``ferrograd`` namespace, so importing ``nn`` works wherever
``ferrograd/__init__.py`` imports it."""

from __future__ import annotations

from .. import _core, _gather, _math, _reduce
from .._core import Tensor, tril
from .._creation import arange, full, ones, rand, zeros
from .._manip import cat

__all__ = [
    "Tensor", "abs", "amax", "arange", "as_tensor", "cat", "clip", "exp", "full", "log", "log1p",
    "log_softmax", "logsumexp", "maximum", "ones", "rand", "rsqrt", "sigmoid", "softmax", "softplus",
    "sqrt", "take_along_axis", "tanh", "tril", "unary", "where", "zeros",
]

abs = _math.FUNCTIONS["abs"]  # noqa: A001  (the elementwise op, PyTorch's name)
exp = _math.FUNCTIONS["exp"]
log = _math.FUNCTIONS["log"]
log1p = _math.FUNCTIONS["log1p"]
sqrt = _math.FUNCTIONS["sqrt"]
rsqrt = _math.FUNCTIONS["rsqrt"]
sigmoid = _math.FUNCTIONS["sigmoid"]
tanh = _math.FUNCTIONS["tanh"]
softplus = _math.FUNCTIONS["softplus"]
maximum = _math.FUNCTIONS["maximum"]
where = _math.where
clip = _math.clip
amax = _reduce.amax
logsumexp = _reduce.logsumexp
softmax = _reduce.softmax
log_softmax = _reduce.log_softmax
take_along_axis = _gather.take_along_axis


def unary(name: str, x: Tensor, param: float | None = None, out: Tensor | None = None) -> Tensor:
    """An elementwise op from the Rust table by name (``out=x`` makes it in place)."""
    if param is None:
        return _core._unary(name, x, out)
    return _core._unary(name, x, out, float(param))


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _core._as_tensor(x)
