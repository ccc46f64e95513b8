"""Random permutations from ferrograd's Philox generators (the same on every platform)."""

from __future__ import annotations

from .. import _core
from .._core import Generator, Tensor
from .._creation import rand


def as_generator(generator) -> Generator | None:
    """``None`` (the global generator), a ``ferrograd.Generator``, or an int seed."""
    if generator is None or isinstance(generator, Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        seeded = Generator()
        seeded.manual_seed(generator)
        return seeded
    raise TypeError(f"generator must be a ferrograd.Generator or an int seed, "
                    f"got {type(generator).__name__}")


def randperm(n: int, generator=None) -> Tensor:
    """A uniformly random permutation of ``range(n)`` as an int64 tensor: the order that
    sorts ``n`` float64 uniforms (ties, and with them any bias, are vanishingly rare)."""
    keys = rand(n, dtype=_core.float64, generator=as_generator(generator))
    return keys.argsort()
