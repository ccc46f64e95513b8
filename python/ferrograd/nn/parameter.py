"""``Parameter``: a Tensor that a Module registers as learnable.

``ferrograd.Tensor`` is a Rust class without a Python constructor, so a Python subclass
cannot be instantiated directly. It can, however, be *re-classed*: ``Parameter`` adds no
instance state (``__slots__ = ()``), so its memory layout is exactly ``Tensor``'s and
CPython allows ``tensor.__class__ = Parameter``. ``Parameter(data)`` therefore detaches
``data`` (a new leaf sharing its storage, as in PyTorch), re-classes that object and turns
on ``requires_grad``. The result is a real ``Tensor`` for every op and for the Rust side,
``isinstance(p, Parameter)`` holds, and ops on it return plain Tensors, as in PyTorch.
"""

from __future__ import annotations

from .. import _core
from .._core import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: ``requires_grad=True`` by default, listed by
    ``Module.parameters()`` when assigned as a module attribute."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = _core._full((0,), 0.0, dtype=None)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(data): data must be a Tensor, got {type(data).__name__}")
        leaf = data.detach()
        leaf.__class__ = cls
        leaf.requires_grad_(bool(requires_grad))
        return leaf

    def __init__(self, data=None, requires_grad=True):
        # Everything happens in __new__; this only accepts the constructor's arguments.
        pass

    @property
    def data(self) -> Tensor:
        """The values without autograd history (a Tensor sharing this parameter's storage)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        # Storage cannot be swapped under a Rust tensor, so ``p.data = t`` copies the
        # values in; the shape and dtype have to match.
        if tuple(value.shape) != tuple(self.shape):
            raise RuntimeError(
                f"Parameter.data = t: shapes differ ({tuple(value.shape)} vs {tuple(self.shape)}); "
                "ferrograd copies into the existing storage"
            )
        self.detach().copy_(value)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        copied = Parameter(Tensor.__deepcopy__(self.detach(), memo), self.requires_grad)
        memo[id(self)] = copied
        return copied

    def __copy__(self):
        return Parameter(Tensor.__copy__(self.detach()), self.requires_grad)

    def __reduce_ex__(self, protocol):
        # Rebuilt as a Parameter (pickling support itself is the Tensor's business).
        return (Parameter, (self.detach(), self.requires_grad))
