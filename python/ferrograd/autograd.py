"""Automatic differentiation, PyTorch's way: ``backward``, ``grad``, grad-mode context
managers, custom ``Function``s, and ``gradcheck``/``gradgradcheck``.

The graph and the backward pass live in Rust (``rust/autograd``); this module is the
Python surface over ``ferrograd._core``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from . import _core
from ._core import Node, Tensor, is_grad_enabled

__all__ = [
    "Function",
    "Node",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


class _GradMode:
    """A context manager that is also a decorator, setting grad mode on entry."""

    _flag: bool = True

    def __enter__(self):
        self._prev = _core._set_grad_enabled(self._flag)
        return self

    def __exit__(self, *exc):
        _core._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        flag = self._flag

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _core._set_grad_enabled(flag)
            try:
                return fn(*args, **kwargs)
            finally:
                _core._set_grad_enabled(prev)

        return wrapper


class _BareDecorator(_GradMode):
    """Also usable as a decorator without parentheses (``@no_grad``), as in PyTorch."""

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is None:
            return self
        return self(orig_func)


class no_grad(_BareDecorator):
    """Ops inside record nothing (inference, parameter updates)."""

    _flag = False


class enable_grad(_BareDecorator):
    """Turns recording back on inside a ``no_grad`` block."""

    _flag = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(flag)``: takes effect at once, and as a context manager
    restores the previous mode on exit."""

    def __init__(self, mode: bool):
        self._flag = bool(mode)
        self._prev = _core._set_grad_enabled(self._flag)

    def __enter__(self):
        return self

    def __call__(self, fn):
        # Used as a decorator: undo the immediate switch made by __init__.
        _core._set_grad_enabled(self._prev)
        return super().__call__(fn)


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False) -> None:
    """Accumulates the gradients of ``tensors`` into the leaves' ``.grad``."""
    outs = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(outs)
    retain = create_graph if retain_graph is None else retain_graph
    _core._backward(outs, grads, bool(retain), bool(create_graph))


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input);
    leaves' ``.grad`` are left untouched."""
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outs)
    retain = create_graph if retain_graph is None else retain_graph
    res = _core._grad(
        outs, ins, grads, bool(retain), bool(create_graph), bool(allow_unused or materialize_grads)
    )
    if materialize_grads:
        res = [g if g is not None else _core._full(x.shape, 0.0, dtype=x.dtype) for g, x in zip(res, ins)]
    return tuple(res)


# ---- custom functions ---------------------------------------------------------------


class FunctionCtx:
    """The ``ctx`` a custom Function's ``forward`` and ``backward`` share."""

    def __init__(self):
        self._saved: tuple = ()
        self.needs_input_grad: tuple = ()
        self._non_differentiable: set = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility: in-place outputs are recorded like new ones."""

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``, then
    call ``MyFunction.apply(*args)``. Forward runs without recording; the outputs join
    the graph through one node whose backward calls yours."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        single = isinstance(out, Tensor)
        outs = (out,) if single else tuple(out)
        # An output that is an input must become a new tensor to carry its own history.
        fresh = []
        for o in outs:
            if isinstance(o, Tensor) and any(o is a for a in args):
                o = o.detach()
            fresh.append(o)
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        # Outputs that join the graph: float tensors not marked non-differentiable.
        diff_pos = [
            k
            for k, o in enumerate(fresh)
            if isinstance(o, Tensor)
            and o.dtype.is_floating_point
            and id(o) not in ctx._non_differentiable
            and id(outs[k]) not in ctx._non_differentiable
        ]
        diff_outs = [fresh[k] for k in diff_pos]
        # Saved outputs are kept without history, so the graph holds no cycle through ctx.
        ctx._saved = tuple(
            t.detach() if isinstance(t, Tensor) and any(t is o for o in outs) else t
            for t in ctx._saved
        )
        out_sigs = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in fresh]

        def run_backward(*grads):
            # backward sees one gradient per output of forward, as in PyTorch: zeros (or
            # None without materialize_grads) for the ones no gradient reached or that
            # are not differentiable, None for non-tensor outputs.
            full = [None] * len(fresh)
            for k, g in zip(diff_pos, grads):
                full[k] = g
            if ctx.materialize_grads:
                full = [
                    g if g is not None or sig is None else _core._full(sig[0], 0.0, dtype=sig[1])
                    for g, sig in zip(full, out_sigs)
                ]
            res = cls.backward(ctx, *full)
            if not isinstance(res, tuple):
                res = (res,)
            if len(res) != len(args):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned {len(res)} gradients, "
                    f"but forward took {len(args)} arguments"
                )
            return tuple(res[i] for i in positions)

        _core._record_function(f"{cls.__name__}Backward", tensor_args, diff_outs, run_backward)
        return fresh[0] if single else type(out)(fresh) if isinstance(out, (tuple, list)) else fresh


# ---- numerical checks -----------------------------------------------------------------


def _inputs_tuple(inputs) -> tuple:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _outputs_tuple(out) -> tuple:
    return (out,) if isinstance(out, Tensor) else tuple(out)


def _numerical_jacobian(fn, inputs: Sequence, i: int, eps: float):
    """Central differences of every output element with respect to input ``i``: a
    list (per output) of numpy arrays of shape (input numel, output numel)."""
    import numpy as np

    x = inputs[i].detach()  # shares memory, strided or not
    n = x.numel()
    cols = None

    def evaluate():
        return [np.asarray(o.detach()).astype(np.float64).ravel() for o in _outputs_tuple(fn(*inputs))]

    for k in range(n):
        at = tuple(int(v) for v in np.unravel_index(k, x.shape))
        orig = float(x[at].item())
        # x is a detached alias: writing it is not recorded, and fn runs with grad
        # mode as the caller has it (gradgradcheck's fn itself calls grad()).
        x[at] = orig + eps
        plus = evaluate()
        x[at] = orig - eps
        minus = evaluate()
        x[at] = orig
        d = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
        if cols is None:
            cols = [np.zeros((n, len(v))) for v in d]
        for c, v in zip(cols, d):
            c[k] = v
    return cols or []


def _analytical_jacobian(fn, inputs: Sequence, diff: list):
    """Rows of d(output)/d(input) by one backward pass per output element."""
    import numpy as np

    outs = _outputs_tuple(fn(*inputs))
    jac = {}
    for oi, o in enumerate(outs):
        if not (isinstance(o, Tensor) and o.requires_grad):
            continue
        m = o.numel()
        for i in diff:
            jac[(oi, i)] = np.zeros((inputs[i].numel(), m))
        for j in range(m):
            g = _core._full(o.shape, 0.0, dtype=o.dtype)
            g.reshape(-1)[j] = 1.0
            grads = grad([o], [inputs[i] for i in diff], [g], retain_graph=True, allow_unused=True)
            for i, gi in zip(diff, grads):
                if gi is not None:
                    jac[(oi, i)][:, j] = np.asarray(gi.detach()).astype(np.float64).ravel()
    return outs, jac


def gradcheck(
    fn,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compares backward's gradients with central finite differences. Inputs that
    require grad should be float64 (finite differences in float32 are too coarse)."""
    import numpy as np

    inputs = _inputs_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    outs, analytic = _analytical_jacobian(fn, inputs, diff)
    for i in diff:
        numeric = _numerical_jacobian(fn, inputs, i, eps)
        for oi, o in enumerate(outs):
            if not (isinstance(o, Tensor) and o.dtype.is_floating_point):
                continue
            # An output without history has a zero analytical Jacobian: it must not
            # depend on the input numerically either (catches ops that drop the graph).
            a, n = analytic.get((oi, i), np.zeros_like(numeric[oi])), numeric[oi]
            if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=True):
                if not raise_exception:
                    return False
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                raise GradcheckError(
                    f"Jacobian mismatch for output {oi} with respect to input {i}: at (input element "
                    f"{worst[0]}, output element {worst[1]}) analytical {a[worst]!r} vs numerical "
                    f"{n[worst]!r} (max abs diff {np.max(np.abs(a - n)):.3g})"
                )
    return True


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """``gradcheck`` of the first backward pass itself (recorded with create_graph)."""
    inputs = _inputs_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs_tuple(fn(*inputs))
    # Only the differentiable outputs take part (indices, constants... are left out).
    keep = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if grad_outputs is None:
        import numpy as np

        rng = np.random.default_rng(0)
        grad_outputs = [
            _core._as_tensor(rng.standard_normal(outs[k].shape)).astype(outs[k].dtype).requires_grad_()
            for k in keep
        ]
    grad_outputs = list(_outputs_tuple(grad_outputs))
    if len(grad_outputs) == len(outs) != len(keep):
        grad_outputs = [grad_outputs[k] for k in keep]

    def first_grads(*args):
        xs, gs = args[: len(inputs)], args[len(inputs) :]
        o = _outputs_tuple(fn(*xs))
        o = [o[k] for k in keep]
        g = grad(o, [xs[i] for i in diff], gs, create_graph=True, allow_unused=True)
        return tuple(t for t in g if t is not None)

    return gradcheck(
        first_grads,
        tuple(inputs) + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""
