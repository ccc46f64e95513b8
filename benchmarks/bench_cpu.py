"""CPU backend: elementwise, reductions and matmul against numpy (and torch if installed).

Ratios are other-library time / ferrograd time (higher is better for ferrograd).
Run: .venv/bin/python benchmarks/bench_cpu.py
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import median_time, table, try_torch  # noqa: E402

import ferrograd as fg  # noqa: E402


def case(rows, name, f_fg, f_np, f_th=None, target="", repeat=9):
    t_fg = median_time(f_fg, repeat)
    t_np = median_time(f_np, repeat) if f_np else None
    t_th = median_time(f_th, repeat) if f_th else None
    rows.append((name, t_fg, t_np, t_th, target))


def main() -> None:
    torch = try_torch()
    if torch:
        torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    rows = []

    n = 1 << 24
    a_np = rng.standard_normal(n, dtype=np.float32)
    b_np = rng.standard_normal(n, dtype=np.float32)
    a, b = fg.from_numpy(a_np), fg.from_numpy(b_np)
    ta, tb = (torch.from_numpy(a_np), torch.from_numpy(b_np)) if torch else (None, None)
    np.testing.assert_allclose(np.asarray(a + b), a_np + b_np)
    case(rows, "a + b, 16M f32", lambda: a + b, lambda: a_np + b_np,
         (lambda: ta + tb) if torch else None, ">= 1.5x numpy")
    case(rows, "exp, 16M f32", lambda: fg.exp(a), lambda: np.exp(a_np),
         (lambda: torch.exp(ta)) if torch else None, ">= 3x numpy")
    case(rows, "sum, 16M f32", lambda: fg.sum(a), lambda: np.sum(a_np),
         (lambda: torch.sum(ta)) if torch else None, ">= 2x numpy")

    m_np = rng.standard_normal((4096, 4096), dtype=np.float32)
    m = fg.from_numpy(m_np)
    tm = torch.from_numpy(m_np) if torch else None
    np.testing.assert_allclose(np.asarray(fg.sum(m, axis=0)), m_np.sum(axis=0), rtol=1e-4, atol=1e-2)
    case(rows, "sum(axis=0), 4096x4096 f32", lambda: fg.sum(m, axis=0), lambda: m_np.sum(axis=0),
         (lambda: tm.sum(0)) if torch else None, ">= 1.5x numpy")

    s_np = rng.standard_normal(16, dtype=np.float32)
    s = fg.from_numpy(s_np)
    ts = torch.from_numpy(s_np) if torch else None
    case(rows, "a + b, 16 elements (overhead)", lambda: s + s, lambda: s_np + s_np,
         (lambda: ts + ts) if torch else None, "<= numpy's time", repeat=15)

    for k in (256, 1024, 2048):
        x_np = rng.standard_normal((k, k), dtype=np.float32)
        y_np = rng.standard_normal((k, k), dtype=np.float32)
        x, y = fg.from_numpy(x_np), fg.from_numpy(y_np)
        np.testing.assert_allclose(np.asarray(x @ y), x_np @ y_np, rtol=1e-3, atol=1e-3)
        th = None
        if torch:
            tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)
            th = lambda tx=tx, ty=ty: tx @ ty  # noqa: E731
        case(rows, f"matmul {k}x{k} f32", lambda x=x, y=y: x @ y,
             lambda x_np=x_np, y_np=y_np: x_np @ y_np, th, ">= 0.9x numpy", repeat=5)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "") + f", SIMD {fg._core.simd_level()}")
    print(table(rows))


if __name__ == "__main__":
    main()
