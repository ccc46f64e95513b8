"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``state_dict``.

Subclasses gather each group's tensors into lists and hand them to one function in
``_functional`` per step, so the maths lives in one place (and can become one fused call).
"""

from __future__ import annotations

import copy

from .. import autograd
from .._core import Tensor


class _Required:
    """Marks a hyper-parameter with no default (``lr`` for ``SGD`` in old PyTorch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """PyTorch's ``torch.optim.Optimizer``.

    ``params`` is an iterable of tensors or of dicts (``{'params': [...], 'lr': ...}``),
    one per parameter group; options a group leaves out come from ``defaults``.
    ``state`` maps each parameter tensor to its dict of buffers, filled lazily on the
    first ``step`` that sees a gradient for it.
    """

    def __init__(self, params, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict) -> None:
        """Adds a group (a dict with ``params`` and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("a parameter group holds the same parameter twice")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's ``.grad`` (``None``, or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    grad = p.grad.detach()
                    grad.zero_()
                    p.grad = grad

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` (re)computes
        the loss with gradients enabled and its value is returned."""
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError

    def _params_with_grad(self, group: dict) -> tuple[list, list]:
        params = [p for p in group["params"] if p.grad is not None]
        return params, [p.grad for p in params]

    # -- state_dict in PyTorch's layout: parameters become their index in group order.

    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        As in PyTorch the buffers are the live tensors, not copies: deep-copy the
        result (or save it) before training further if you want a snapshot."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index_of[id(p)]: s for p, s in self.state.items() if id(p) in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores buffers and options saved by ``state_dict`` (ours or PyTorch's layout).
        Buffers are copied and cast to their parameter's dtype (``step`` keeps its own)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for ours, saved in zip(self.param_groups, saved_groups):
            if len(ours["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        param_of = {
            index: p
            for ours, saved in zip(self.param_groups, saved_groups)
            for index, p in zip(saved["params"], ours["params"])
        }
        self.state = {}
        for index, buffers in state_dict["state"].items():
            p = param_of.get(_as_index(index))
            if p is not None:
                self.state[p] = {k: _restore_buffer(k, v, p) for k, v in buffers.items()}
        for i, saved in enumerate(saved_groups):
            options = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            self.param_groups[i] = {**options, "params": self.param_groups[i]["params"]}


def _as_index(key) -> int:
    # Loaded from a file, integer keys may come back as strings ("0").
    return int(key)


def _restore_buffer(name: str, value, param: Tensor):
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    value = value.detach()
    if name == "step" or not param.is_floating_point():
        return value.clone()
    return value.to(param.dtype).clone()
