"""Copy kernels: contiguous() of a transposed matrix, astype, strided slices.

Ratios are numpy time / ferrograd time (higher is better for ferrograd).
Run: make bench   (or .venv/bin/python benchmarks/bench_copy.py)
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import median_time, table, try_torch  # noqa: E402

import ferrograd as fg  # noqa: E402


def main() -> None:
    torch = try_torch()
    rows = []
    a_np = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    a_fg = fg.from_numpy(a_np)
    a_th = torch.from_numpy(a_np) if torch else None

    fg_t = a_fg.T.contiguous
    np_t = lambda: np.ascontiguousarray(a_np.T)  # noqa: E731
    th_t = (lambda: a_th.T.contiguous()) if torch else None
    np.testing.assert_array_equal(np.asarray(fg_t()), np_t())
    rows.append(("T.contiguous() 4096x4096 f32", median_time(fg_t, 7), median_time(np_t, 7),
                 median_time(th_t, 7) if th_t else None, ">= 2x numpy"))

    fg_c = lambda: a_fg.astype(fg.float64)  # noqa: E731
    np_c = lambda: a_np.astype(np.float64)  # noqa: E731
    th_c = (lambda: a_th.double()) if torch else None
    rows.append(("astype f32->f64 16M", median_time(fg_c, 7), median_time(np_c, 7),
                 median_time(th_c, 7) if th_c else None, ""))

    fg_s = lambda: a_fg[::2, ::-3].contiguous()  # noqa: E731
    np_s = lambda: np.ascontiguousarray(a_np[::2, ::-3])  # noqa: E731
    np.testing.assert_array_equal(np.asarray(fg_s()), np_s())
    rows.append(("x[::2, ::-3].contiguous()", median_time(fg_s, 7), median_time(np_s, 7),
                 None, ""))

    b_np = np.random.default_rng(1).standard_normal((32, 64, 56, 56), dtype=np.float32)
    b_fg = fg.from_numpy(b_np)
    fg_p = lambda: b_fg.permute(0, 2, 3, 1).contiguous()  # noqa: E731
    np_p = lambda: np.ascontiguousarray(b_np.transpose(0, 2, 3, 1))  # noqa: E731
    np.testing.assert_array_equal(np.asarray(fg_p()), np_p())
    rows.append(("NCHW->NHWC 32x64x56x56 f32", median_time(fg_p, 5), median_time(np_p, 5),
                 None, ""))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ""))
    print(table(rows))


if __name__ == "__main__":
    main()
