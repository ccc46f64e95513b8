"""Image ops (pooling, pad, interpolate and their backward primitives) against numpy
(where numpy has a natural spelling) and PyTorch (if installed), float32, CNN-sized.

Ratios are other-library time / ferrograd time (higher is better for ferrograd).
Run: .venv/bin/python benchmarks/bench_image.py
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import median_time, table, try_torch  # noqa: E402

import ferrograd as fg  # noqa: E402
from ferrograd import _core  # noqa: E402


def case(rows, name, f_fg, f_np=None, f_th=None, target="", repeat=7):
    t_fg = median_time(f_fg, repeat)
    t_np = median_time(f_np, repeat) if f_np else None
    t_th = median_time(f_th, repeat) if f_th else None
    rows.append((name, t_fg, t_np, t_th, target))


def main() -> None:
    torch = try_torch()
    if torch:
        torch.set_num_threads(os.cpu_count() or 1)
    F = torch.nn.functional if torch else None
    aten = torch.ops.aten if torch else None
    rng = np.random.default_rng(0)
    rows = []

    a_np = rng.standard_normal((8, 64, 112, 112), dtype=np.float32)
    a = fg.from_numpy(a_np)
    ta = torch.from_numpy(a_np) if torch else None
    shape = "8x64x112x112"

    case(rows, f"max_pool2d 3x3 s2 p1, {shape}", lambda: fg.max_pool2d(a, 3, 2, 1), None,
         (lambda: F.max_pool2d(ta, 3, 2, 1)) if torch else None, ">= torch")
    case(rows, f"max_pool2d 2x2 + indices, {shape}", lambda: fg.max_pool2d(a, 2, return_indices=True),
         lambda: a_np.reshape(8, 64, 56, 2, 56, 2).max(axis=(3, 5)),
         (lambda: F.max_pool2d(ta, 2, return_indices=True)) if torch else None, ">= torch")
    case(rows, f"avg_pool2d 2x2, {shape}", lambda: fg.avg_pool2d(a, 2),
         lambda: a_np.reshape(8, 64, 56, 2, 56, 2).mean(axis=(3, 5)),
         (lambda: F.avg_pool2d(ta, 2)) if torch else None, ">= torch")
    case(rows, f"avg_pool2d 3x3 s1 p1, {shape}", lambda: fg.avg_pool2d(a, 3, 1, 1), None,
         (lambda: F.avg_pool2d(ta, 3, 1, 1)) if torch else None, ">= torch")

    g_np = rng.standard_normal((64, 512, 7, 7), dtype=np.float32)
    g = fg.from_numpy(g_np)
    tg = torch.from_numpy(g_np) if torch else None
    case(rows, "adaptive_avg_pool2d(1), 64x512x7x7", lambda: fg.adaptive_avg_pool2d(g, 1),
         lambda: g_np.mean(axis=(2, 3), keepdims=True),
         (lambda: F.adaptive_avg_pool2d(tg, 1)) if torch else None, ">= torch")

    u_np = rng.standard_normal((8, 64, 64, 64), dtype=np.float32)
    u = fg.from_numpy(u_np)
    tu = torch.from_numpy(u_np) if torch else None
    case(rows, "interpolate bilinear x2, 8x64x64x64", lambda: fg.interpolate(u, scale_factor=2, mode="bilinear"),
         None, (lambda: F.interpolate(tu, scale_factor=2, mode="bilinear")) if torch else None, ">= torch")
    case(rows, "interpolate nearest x2, 8x64x64x64", lambda: fg.interpolate(u, scale_factor=2),
         lambda: u_np.repeat(2, axis=2).repeat(2, axis=3),
         (lambda: F.interpolate(tu, scale_factor=2)) if torch else None, ">= torch")

    case(rows, f"pad reflect 1, {shape}", lambda: fg.pad(a, (1, 1, 1, 1), mode="reflect"),
         lambda: np.pad(a_np, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"),
         (lambda: F.pad(ta, (1, 1, 1, 1), mode="reflect")) if torch else None, ">= torch")
    case(rows, f"pad constant 1, {shape}", lambda: fg.pad(a, (1, 1, 1, 1)),
         lambda: np.pad(a_np, ((0, 0), (0, 0), (1, 1), (1, 1))),
         (lambda: F.pad(ta, (1, 1, 1, 1))) if torch else None, ">= torch")

    v, idx = fg.max_pool2d(a, 3, 2, 1, return_indices=True)
    go = fg.from_numpy(rng.standard_normal(v.shape, dtype=np.float32))
    if torch:
        tv, tidx = F.max_pool2d(ta, 3, 2, 1, return_indices=True)
        tgo = torch.from_numpy(np.asarray(go))
    case(rows, f"max_pool2d backward 3x3 s2 p1, {shape}", lambda: _core._max_pool_backward(go, idx, a.shape), None,
         (lambda: aten.max_pool2d_with_indices_backward(tgo, ta, [3, 3], [2, 2], [1, 1], [1, 1], False, tidx))
         if torch else None, ">= torch")
    case(rows, f"avg_pool2d backward 3x3 s2 p1, {shape}",
         lambda: _core._avg_pool_backward(go, a.shape, (3, 3), 2, 1), None,
         (lambda: aten.avg_pool2d_backward(tgo, ta, [3, 3], [2, 2], [1, 1], False, True, None))
         if torch else None, ">= torch")
    gu = fg.from_numpy(rng.standard_normal((8, 64, 128, 128), dtype=np.float32))
    tgu = torch.from_numpy(np.asarray(gu)) if torch else None
    case(rows, "interpolate bilinear x2 backward, 8x64x64x64",
         lambda: _core._interpolate_backward(gu, u.shape, "bilinear", False, 2.0), None,
         (lambda: aten.upsample_bilinear2d_backward(tgu, [128, 128], list(u.shape), False, 2.0, 2.0))
         if torch else None, ">= torch")
    case(rows, f"pad reflect backward, {shape}",
         lambda: _core._pad_backward(fg.pad(a, (1, 1, 1, 1)), a.shape, (1, 1, 1, 1), "reflect"), None,
         (lambda: aten.reflection_pad2d_backward(F.pad(ta, (1, 1, 1, 1)), ta, [1, 1, 1, 1])) if torch else None,
         "(includes one constant pad)")

    print(f"# image ops, {platform.machine()}, {os.cpu_count()} CPUs, simd={_core.simd_level()}")
    print(table(rows))


if __name__ == "__main__":
    main()
