"""``BatchNorm1d/2d/3d``: per-channel normalisation with running statistics."""

from __future__ import annotations

from .. import _core
from . import functional as F
from ._factory import register_affine, reset_affine
from .module import Module


class _BatchNorm(Module):
    """Training normalises with the batch's statistics and updates ``running_mean`` /
    ``running_var`` (``momentum=None`` means a cumulative average over
    ``num_batches_tracked``); eval uses the running statistics, unless
    ``track_running_stats=False``, in which case batch statistics are always used."""

    _version = 2
    _input_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        register_affine(self, affine, bias, (num_features,), device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _core._full((num_features,), 0.0, dtype=dtype, device=device))
            self.register_buffer("running_var", _core._full((num_features,), 1.0, dtype=dtype, device=device))
            # int64 as in PyTorch; kept on the CPU even for a GPU module (GPUs hold no
            # int64, and the counter is only read on the host).
            self.register_buffer("num_batches_tracked", _core._full((), 0, dtype=_core.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        reset_affine(self)

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._input_dims:
            dims = " or ".join(f"{d}D" for d in self._input_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over ``(N, C)`` or ``(N, C, L)``."""

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over ``(N, C, H, W)``."""

    _input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Over ``(N, C, D, H, W)``."""

    _input_dims = (5,)
