"""Adagrad (PyTorch's ``torch.optim.Adagrad``)."""

from __future__ import annotations

from .._creation import full_like
from . import _functional
from .adam import new_step_counter
from .optimizer import Optimizer
from .sgd import _check_non_negative


class Adagrad(Optimizer):
    """Adagrad with ``lr_decay`` and ``initial_accumulator_value``.
    State per parameter: ``step``, ``sum``; created eagerly, as PyTorch does."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False) -> None:
        _check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                            initial_accumulator_value=initial_accumulator_value, epsilon=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        # PyTorch fills every group from the constructor's value, not the group's own.
        initial = self.defaults["initial_accumulator_value"]
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p] = {"step": new_step_counter(),
                             "sum": full_like(p, initial)}

    def _update_group(self, group: dict) -> None:
        params, grads = self._params_with_grad(group)
        _functional.adagrad(
            params, grads,
            [self.state[p]["sum"] for p in params],
            [self.state[p]["step"] for p in params],
            lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
            eps=group["eps"], maximize=group["maximize"],
        )
