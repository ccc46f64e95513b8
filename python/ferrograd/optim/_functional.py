"""The per-step maths of every optimizer, one function each, over lists of tensors.

Each function follows PyTorch's ``_single_tensor_<name>`` in ``torch/optim/<name>.py``
operation for operation (same order, same lerp/addcmul/addcdiv forms), so results agree
with PyTorch to rounding. They update ``params`` and the state buffers in place and must
run under ``no_grad``.

When every parameter is a contiguous float32 or float64 tensor of one dtype on one
device (the usual case) the whole step is instead one fused Rust call,
``_core._optimizer_step``, which applies the same formulas in the same order to every
element in one pass: on all cores without the GIL on the CPU, one kernel per parameter
(``shaders/optim.wgsl``) on a GPU. The composed form stays as the general path (other dtypes,
other devices, mixed groups) and as the readable reference.
"""

from __future__ import annotations

from .. import _core
from .._core import Tensor

_FUSED_DTYPES = (_core.float32, _core.float64)


def _fused_ok(params, grads) -> bool:
    """Whether the fused kernel takes these parameters (see the module docstring)."""
    if not params:
        return False
    dtype, device = params[0].dtype, str(params[0].device)
    return dtype in _FUSED_DTYPES and all(
        p.dtype == dtype and str(p.device) == device and str(g.device) == device and p.is_contiguous()
        for p, g in zip(params, grads))


def _fused(kind: str, params, grads, state, steps, **hyper):
    """Runs one fused step and returns every parameter's state tensors, or ``None`` (and
    does nothing) when the parameters do not fit the fused kernel."""
    if not _fused_ok(params, grads):
        return None
    return _core._optimizer_step(kind, params, grads, state, steps, hyper)

# -- PyTorch's fused in-place helpers, composed from ferrograd's in-place ops.


def _add_scaled_(dst: Tensor, src: Tensor, alpha: float) -> Tensor:
    """``dst.add_(src, alpha=alpha)``."""
    return dst.add_(src if alpha == 1 else src * alpha)


def _addcmul_(dst: Tensor, t1: Tensor, t2: Tensor, value: float) -> Tensor:
    """``dst.addcmul_(t1, t2, value=value)``: dst + value * t1 * t2."""
    return dst.add_(t1 * value * t2)


def _addcdiv_(dst: Tensor, t1: Tensor, t2: Tensor, value: float) -> Tensor:
    """``dst.addcdiv_(t1, t2, value=value)``: dst + value * t1 / t2."""
    return dst.add_(t1 * value / t2)


def _lerp_(dst: Tensor, end: Tensor, weight: float) -> Tensor:
    """``dst.lerp_(end, weight)`` with PyTorch's two-sided form (exact at both ends)."""
    if weight < 0.5:
        return dst.add_((end - dst) * weight)
    return dst.copy_(end - (end - dst) * (1 - weight))


def _prepare_grad(grad: Tensor, param: Tensor, weight_decay: float, maximize: bool) -> Tensor:
    """The gradient the update uses: negated for ``maximize``, plus L2 weight decay.
    Always a new tensor or the untouched ``.grad``: ``.grad`` itself is never modified."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    return grad


def _increment(step: Tensor) -> float:
    step += 1
    return step.item()


# -- the optimizers


def sgd(params, grads, momentum_buffers, *, lr, momentum, dampening, weight_decay,
        nesterov, maximize) -> None:
    """SGD with optional momentum/Nesterov. ``momentum_buffers[i]`` is ``None`` until the
    first step, when it is set to a copy of the gradient (the caller stores it)."""
    state = [[momentum_buffers[i]] if momentum != 0 else [] for i in range(len(params))]
    new = _fused("sgd", params, grads, state, [0] * len(params), lr=lr, momentum=momentum,
                 dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    if new is not None:
        if momentum != 0:
            momentum_buffers[:] = [s[0] for s in new]
        return
    for i, param in enumerate(params):
        grad = _prepare_grad(grads[i], param, weight_decay, maximize)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = grad.detach().clone()
                momentum_buffers[i] = buf
            else:
                _add_scaled_(buf.mul_(momentum), grad, 1 - dampening)
            grad = grad + buf * momentum if nesterov else buf
        _add_scaled_(param, grad, -lr)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
         beta1, beta2, lr, weight_decay, eps, maximize, decoupled_weight_decay) -> None:
    """Adam (and AdamW with ``decoupled_weight_decay=True``)."""
    if _fused_ok(params, grads):
        state = [[exp_avgs[i], exp_avg_sqs[i]] + ([max_exp_avg_sqs[i]] if amsgrad else [])
                 for i in range(len(params))]
        _fused("adamw" if decoupled_weight_decay else "adam", params, grads, state,
               [int(_increment(s)) for s in state_steps], lr=lr, betas=(beta1, beta2), eps=eps,
               weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        return
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        step = _increment(state_steps[i])
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad + param * weight_decay
        _lerp_(exp_avg, grad, 1 - beta1)
        _addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if amsgrad:
            max_exp_avg_sqs[i].maximum_(exp_avg_sq)
            second_moment = max_exp_avg_sqs[i]
        else:
            second_moment = exp_avg_sq
        denom = (second_moment.sqrt() / bias_correction2_sqrt).add_(eps)
        _addcdiv_(param, exp_avg, denom, -step_size)


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, state_steps, *, lr,
            alpha, eps, weight_decay, momentum, centered, maximize) -> None:
    """RMSprop, optionally centered and with momentum (``grad_avgs`` / ``momentum_buffers``
    hold ``None`` where the option is off)."""
    if _fused_ok(params, grads):
        state = [[square_avgs[i]] + ([grad_avgs[i]] if centered else [])
                 + ([momentum_buffers[i]] if momentum > 0 else []) for i in range(len(params))]
        _fused("rmsprop", params, grads, state, [int(_increment(s)) for s in state_steps], lr=lr,
               alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
               maximize=maximize)
        return
    for i, param in enumerate(params):
        _increment(state_steps[i])
        grad = _prepare_grad(grads[i], param, weight_decay, maximize)
        square_avg = square_avgs[i]
        _addcmul_(square_avg.mul_(alpha), grad, grad, 1 - alpha)
        if centered:
            grad_avg = _lerp_(grad_avgs[i], grad, 1 - alpha)
            avg = _addcmul_(square_avg.clone(), grad_avg, grad_avg, -1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if momentum > 0:
            buf = _addcdiv_(momentum_buffers[i].mul_(momentum), grad, avg, 1)
            _add_scaled_(param, buf, -lr)
        else:
            _addcdiv_(param, grad, avg, -lr)


def adagrad(params, grads, state_sums, state_steps, *, lr, weight_decay, lr_decay, eps,
            maximize) -> None:
    """Adagrad with PyTorch's learning-rate decay ``lr / (1 + (step - 1) * lr_decay)``."""
    if _fused_ok(params, grads):
        _fused("adagrad", params, grads, [[s] for s in state_sums],
               [int(_increment(s)) for s in state_steps], lr=lr, weight_decay=weight_decay,
               lr_decay=lr_decay, eps=eps, maximize=maximize)
        return
    for i, param in enumerate(params):
        step = _increment(state_steps[i])
        grad = _prepare_grad(grads[i], param, weight_decay, maximize)
        clr = lr / (1 + (step - 1) * lr_decay)
        _addcmul_(state_sums[i], grad, grad, 1)
        std = state_sums[i].sqrt().add_(eps)
        _addcdiv_(param, grad, std, -clr)
