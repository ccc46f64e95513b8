"""``embedding`` (a row lookup) and ``one_hot``."""

from __future__ import annotations

from ... import _core
from ..._gather import one_hot
from ...autograd import no_grad
from ...linalg import vector_norm
from .._ops import Tensor, where, zeros

__all__ = ["embedding", "one_hot"]


def _renorm_rows_(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: rows looked up whose norm exceeds ``max_norm`` are
    rescaled in place to norm ``max_norm`` (the 1e-7 is PyTorch's)."""
    with no_grad():
        rows = sorted({int(i) for i in indices.reshape(-1).tolist()})
        if not rows:
            return
        rows_t = _core._as_tensor(rows)
        picked = weight[rows_t]
        norms = vector_norm(picked, axis=-1, keepdims=True, ord=norm_type)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows_t] = picked * scale


def _scale_grad_by_freq(out: Tensor, input: Tensor, num_embeddings: int) -> Tensor:
    """Same forward values; the gradient of each looked-up row divided by how often its
    index occurs in ``input`` (``out_d + (out - out_d) / f`` equals ``out`` but scales
    the backward pass)."""
    flat = input.reshape(-1)
    counts = zeros(num_embeddings, dtype=out.dtype)
    _core._scatter_add(counts, 0, flat, _core._full(tuple(flat.shape), 1.0, dtype=out.dtype))
    freq = counts[input].unsqueeze(-1)
    detached = out.detach()
    return detached + (out - detached) / freq


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` at integer ``input``: output shape ``input.shape + (dim,)``.
    The row at ``padding_idx`` gets no gradient. ``sparse=True`` is accepted but the
    gradient is dense (ferrograd has no sparse tensors)."""
    if input.dtype.is_floating_point or input.dtype == _core.bool:
        raise TypeError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError("Padding_idx must be within num_embeddings")
        padding_idx %= num_embeddings
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is not None and out.requires_grad:
        # Forward values unchanged; the padding row's lookups come from a detached weight.
        keep = (input != padding_idx).unsqueeze(-1)
        out = where(keep, out, weight.detach()[input])
    if scale_grad_by_freq and out.requires_grad:
        out = _scale_grad_by_freq(out, input, num_embeddings)
    return out
