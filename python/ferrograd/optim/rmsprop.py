"""RMSprop (PyTorch's ``torch.optim.RMSprop``)."""

from __future__ import annotations

from .._creation import zeros_like
from . import _functional
from .adam import new_step_counter
from .optimizer import Optimizer
from .sgd import _check_non_negative


class RMSprop(Optimizer):
    """RMSprop with smoothing ``alpha``, optional momentum and ``centered`` variance.
    State per parameter: ``step``, ``square_avg`` (+ ``momentum_buffer``, ``grad_avg``)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False) -> None:
        _check_non_negative(lr=lr, epsilon=eps, momentum=momentum, weight_decay=weight_decay,
                            alpha=alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize))

    def _state_for(self, p, group: dict) -> dict:
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = new_step_counter()
            state["square_avg"] = zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        return state

    def _update_group(self, group: dict) -> None:
        params, grads = self._params_with_grad(group)
        states = [self._state_for(p, group) for p in params]
        _functional.rmsprop(
            params, grads,
            [s["square_avg"] for s in states],
            [s.get("grad_avg") for s in states],
            [s.get("momentum_buffer") for s in states],
            [s["step"] for s in states],
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"],
            centered=group["centered"], maximize=group["maximize"],
        )
