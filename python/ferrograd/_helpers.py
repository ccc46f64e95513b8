"""Python-side helpers that Rust methods delegate to (formatting, nested lists)."""

from __future__ import annotations

import numpy as np

from . import _core


def _host_array(t) -> np.ndarray:
    """A numpy view of ``t``; bfloat16 (which numpy lacks) goes through float32."""
    if t.dtype == _core.bfloat16:
        t = t.astype(_core.float32)
    return np.asarray(t)


def format_tensor(t) -> str:
    """``tensor([...])`` with numpy's value formatting and summarisation."""
    body = np.array2string(
        _host_array(t), separator=", ", prefix="tensor(", threshold=1000, edgeitems=3
    )
    extras = []
    default_float = _core.get_default_dtype()
    implied = {_core.int64, _core.bool, default_float}
    if t.dtype not in implied or (t.size == 0 and t.dtype != default_float):
        extras.append(f"dtype={t.dtype!r}")
    if t.device != "cpu":
        extras.append(f"device='{t.device}'")
    if t.size == 0 and t.ndim != 1:
        extras.insert(0, f"size={t.shape}")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def tolist(t):
    return _host_array(t).tolist()
