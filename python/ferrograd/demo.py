"""``python -m ferrograd.demo``: a tour of what ferrograd does today.

The training demo (a small CNN on the embedded digits) arrives with ``ferrograd.nn``;
until then this shows the tensor core: creation, zero-copy views, numpy-style indexing,
memory shared with numpy and DLPack, and the speed of the copy kernels.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ferrograd as fg


def _timed(fn, repeat=5):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ferrograd.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=4096, help="matrix size for the copy timing")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.size <= 0:
        print("error: --size must be positive", file=sys.stderr)
        return 2

    fg.manual_seed(args.seed)
    print("ferrograd", fg.__version__, "- tensor core tour\n")

    x = fg.arange(24, dtype=fg.float32).reshape(2, 3, 4)
    print("x = arange(24).reshape(2, 3, 4):", x.shape, x.dtype, "strides", x.strides)
    v = x.permute(2, 0, 1)[::-1, :, 1:]
    print("view x.permute(2, 0, 1)[::-1, :, 1:] ->", v.shape, "strides", v.strides,
          "shares memory:", v.shares_memory_with(x))
    v[0] = -1.0
    print("after v[0] = -1, x[..., -1] =", x[..., -1].tolist())

    idx = fg.tensor([[0, 1], [1, 0]])
    print("\nadvanced indexing x[idx, :, 0] ->", x[idx, :, 0].shape, "(a copy)")
    mask = np.asarray(x) > 10
    print("boolean mask picks", x[fg.from_numpy(mask)].numel(), "elements")

    a = np.zeros((3, 3), dtype=np.float64)
    t = fg.from_numpy(a)
    t.T[0] = 7.0
    print("\nfrom_numpy shares memory: numpy sees", a[:, 0].tolist())
    back = np.from_dlpack(t.T)
    print("DLPack round trip keeps strides:", back.strides, "== numpy's", a.T.strides)

    r = fg.randn(100_000)
    arr = np.asarray(r)
    print(f"\nrandn(100000): mean {arr.mean():+.4f}, std {arr.std():.4f} (Philox, seed {args.seed})")

    n = args.size
    m = fg.rand(n, n)
    mn = np.asarray(m)
    t_fg = _timed(lambda: m.T.contiguous())
    t_np = _timed(lambda: np.ascontiguousarray(mn.T))
    print(f"\n{n}x{n} float32 transpose copy: ferrograd {t_fg * 1e3:.1f} ms, "
          f"numpy {t_np * 1e3:.1f} ms ({t_np / t_fg:.1f}x)")
    w = fg.randn(4, 3)
    h = fg.softmax(fg.relu(x.reshape(-1, 4) @ w), axis=-1)
    print(f"\nrelu(x @ w) -> softmax: shape {h.shape}, rows sum to {h.sum(axis=-1)[0].item():.4f}")
    e = fg.exp(fg.from_numpy(mn))
    t_e = _timed(lambda: fg.exp(m))
    t_ne = _timed(lambda: np.exp(mn))
    print(f"exp over {n * n:,} float32: ferrograd {t_e * 1e3:.1f} ms, numpy {t_ne * 1e3:.1f} ms "
          f"({t_ne / t_e:.1f}x, SIMD {fg._core.simd_level()}); max |diff| "
          f"{float(np.abs(np.asarray(e) - np.exp(mn)).max()):.1e}")
    print("\nNext: convolutions and the rest of the CPU backend, autograd, the GPU backend,"
          " then nn/optim and the digits training demo.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
