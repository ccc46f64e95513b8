"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD``)."""

from __future__ import annotations

from . import _functional
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov momentum, L2 weight decay and ``maximize``.
    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False) -> None:
        _check_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        params, grads = self._params_with_grad(group)
        buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        _functional.sgd(params, grads, buffers, lr=group["lr"], momentum=group["momentum"],
                        dampening=group["dampening"], weight_decay=group["weight_decay"],
                        nesterov=group["nesterov"], maximize=group["maximize"])
        if group["momentum"] != 0:
            for p, buf in zip(params, buffers):
                self.state.setdefault(p, {})["momentum_buffer"] = buf


_MESSAGE_NAMES = {"lr": "learning rate", "momentum": "momentum value",
                  "weight_decay": "weight_decay value", "epsilon": "epsilon value"}


def _check_non_negative(**values) -> None:
    """PyTorch's argument checks, with its messages ("Invalid learning rate: -1")."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"Invalid {_MESSAGE_NAMES.get(name, name)}: {value}")
