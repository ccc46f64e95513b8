"""Adam and AdamW (PyTorch's ``torch.optim.Adam`` / ``torch.optim.AdamW``)."""

from __future__ import annotations

from .. import _core
from .._creation import tensor, zeros_like
from . import _functional
from .optimizer import Optimizer


def _check_betas(betas) -> tuple:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    return (float(betas[0]), float(betas[1]))


def new_step_counter():
    """PyTorch keeps ``step`` as a 0-d float32 tensor; so do we, for state_dict parity."""
    return tensor(0.0, dtype=_core.float32)


class Adam(Optimizer):
    """Adam; ``amsgrad`` keeps the running maximum of the second moment; ``weight_decay``
    is L2 (added to the gradient) unless ``decoupled_weight_decay`` (that is AdamW).
    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (+ ``max_exp_avg_sq``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=_check_betas(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _state_for(self, p, amsgrad: bool) -> dict:
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = new_step_counter()
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def _update_group(self, group: dict) -> None:
        params, grads = self._params_with_grad(group)
        states = [self._state_for(p, group["amsgrad"]) for p in params]
        beta1, beta2 = group["betas"]
        _functional.adam(
            params, grads,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
            [s["step"] for s in states],
            amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
            weight_decay=group["weight_decay"], eps=group["eps"],
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (``param *= 1 - lr * weight_decay`` each step);
    PyTorch's default ``weight_decay=1e-2``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
