"""Convolution: ferrograd against PyTorch's CPU build (if installed) and a numpy reference
(im2col through sliding windows + one matmul/einsum).

Ratios are other-library time / ferrograd time (higher is better for ferrograd).
Run: .venv/bin/python benchmarks/bench_conv.py
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(__file__))
from _harness import median_time, table, try_torch  # noqa: E402

import ferrograd as fg  # noqa: E402
from ferrograd import _core  # noqa: E402


def np_conv2d(x, w, padding):
    """numpy reference: windows of the padded input contracted with the weight."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))  # (N, C, OH, OW, kh, kw)
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


def main() -> None:
    torch = try_torch()
    if torch:
        # RAYON_NUM_THREADS=1 gives ferrograd one thread; torch then gets the same.
        if os.environ.get("RAYON_NUM_THREADS"):
            torch.set_num_threads(int(os.environ["RAYON_NUM_THREADS"]))
            print(f"torch threads: {torch.get_num_threads()} (RAYON_NUM_THREADS)")
        else:
            print(f"torch threads: {torch.get_num_threads()} (default)")
    else:
        print("torch is not installed: the torch column is skipped")
    rng = np.random.default_rng(0)
    rows = []

    def case(name, f_fg, f_np=None, f_th=None, target="", repeat=9):
        t_fg = median_time(f_fg, repeat)
        t_np = median_time(f_np, repeat) if f_np else None
        t_th = median_time(f_th, repeat) if f_th else None
        rows.append((name, t_fg, t_np, t_th, target))

    configs = [
        ((32, 3, 32, 32), 16, 1, "conv2d 32x3x32x32 -> 16, 3x3, pad 1"),
        ((32, 3, 32, 32), 16, 0, "conv2d 32x3x32x32 -> 16, 3x3, pad 0"),
        ((8, 64, 56, 56), 64, 1, "conv2d 8x64x56x56 -> 64, 3x3, pad 1"),
    ]
    for shape, cout, pad, name in configs:
        x_np = rng.standard_normal(shape, dtype=np.float32)
        w_np = rng.standard_normal((cout, shape[1], 3, 3), dtype=np.float32)
        x, w = fg.from_numpy(x_np), fg.from_numpy(w_np)
        y = fg.conv2d(x, w, padding=pad)
        ref = np_conv2d(x_np.astype(np.float64), w_np.astype(np.float64), pad)
        np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-3, atol=1e-3)
        th = tx = tw = None
        if torch:
            tx, tw = torch.from_numpy(x_np), torch.from_numpy(w_np)
            th = lambda tx=tx, tw=tw, pad=pad: torch.nn.functional.conv2d(tx, tw, padding=pad)  # noqa: E731
        big = shape[1] >= 64
        case(name + " f32", lambda x=x, w=w, pad=pad: fg.conv2d(x, w, padding=pad),
             (lambda x_np=x_np, w_np=w_np, pad=pad: np_conv2d(x_np, w_np, pad)),
             th, ">= 1x torch", repeat=5 if big else 9)

        gy_np = rng.standard_normal(tuple(y.shape), dtype=np.float32)
        gy = fg.from_numpy(gy_np)
        th_i = th_w = None
        if torch:
            tgy = torch.from_numpy(gy_np)

            def th_i(tgy=tgy, tx=tx, tw=tw, pad=pad):
                return torch.ops.aten.convolution_backward(tgy, tx, tw, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
                          [True, False, False])

            def th_w(tgy=tgy, tx=tx, tw=tw, pad=pad):
                return torch.ops.aten.convolution_backward(tgy, tx, tw, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
                          [False, True, False])

        case(name + " backward input",
             lambda gy=gy, w=w, s=x.shape, pad=pad: _core._conv_backward_input(gy, w, s, 1, pad, 1, 1),
             None, th_i, "", repeat=5 if big else 9)
        case(name + " backward weight",
             lambda gy=gy, x=x, s=w.shape, pad=pad: _core._conv_backward_weight(gy, x, s, 1, pad, 1, 1),
             None, th_w, "", repeat=5 if big else 9)

    # A strided transposed convolution (a decoder's upsampling layer).
    x_np = rng.standard_normal((8, 64, 28, 28), dtype=np.float32)
    w_np = rng.standard_normal((64, 32, 4, 4), dtype=np.float32)
    x, w = fg.from_numpy(x_np), fg.from_numpy(w_np)
    th = None
    if torch:
        tx, tw = torch.from_numpy(x_np), torch.from_numpy(w_np)
        th = lambda tx=tx, tw=tw: torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1)  # noqa: E731
        np.testing.assert_allclose(np.asarray(fg.conv_transpose2d(x, w, stride=2, padding=1)), th().numpy(),
                                   rtol=1e-3, atol=1e-3)
    case("conv_transpose2d 8x64x28x28 -> 32, 4x4, stride 2", lambda: fg.conv_transpose2d(x, w, stride=2, padding=1),
         None, th, "", repeat=5)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "") + f", SIMD {fg._core.simd_level()}")
    print(table(rows))


if __name__ == "__main__":
    main()
