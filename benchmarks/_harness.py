"""Side-by-side timing: each case runs ferrograd, numpy and (if installed) PyTorch in one
process, interleaved, and reports medians and ratios. Not a test: timings are noisy."""

from __future__ import annotations

import os
import statistics
import time


def median_time(fn, repeat: int = 15, min_time: float = 0.02) -> float:
    """Median seconds per call, calling ``fn`` enough times per sample to be measurable."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_time or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:7.2f} {unit}"
    return f"{s / 1e-9:7.1f} ns"


def table(rows: list[tuple[str, float, float | None, float | None, str]]) -> str:
    """rows: (case, ferrograd s, numpy s, torch s, target)."""
    head = "| case | ferrograd | numpy | torch | vs numpy | vs torch | target |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for case, fg, np_, th, target in rows:
        r_np = f"{np_ / fg:.2f}x" if np_ else "-"
        r_th = f"{th / fg:.2f}x" if th else "-"
        lines.append(
            f"| {case} | {fmt_time(fg)} | {fmt_time(np_) if np_ else '-'} | "
            f"{fmt_time(th) if th else '-'} | {r_np} | {r_th} | {target} |"
        )
    return "\n".join(lines)


def try_torch():
    # PyTorch's OpenMP threads spin for a while after each op by default; interleaved
    # with the other libraries' timings that steals a core from them. Let them sleep.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch  # noqa: PLC0415

        return torch
    except ImportError:
        return None
