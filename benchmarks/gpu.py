"""GPU backend on the adapter at hand, against ferrograd's own CPU backend (and PyTorch on
CUDA where installed): matmul GFLOP/s, elementwise GB/s, reduction GB/s, the cost of
one small dispatch, and one training epoch of the digits MLP (64-128-10, batch 64, SGD)
with the data on the device. Every GPU timing ends with a sync point, so it covers the work, not
just its recording. On a software adapter (lavapipe) the numbers say little about GPUs;
run it on real hardware for figures worth recording.

With --variants, each matmul size is also timed with each of the two matmul kernels
forced (FERROGRAD_GPU_MATMUL, see rust/gpu/backend/kernels.rs), to check the shape rule,
and the elementwise cases with one element per invocation (FERROGRAD_GPU_ELEMENTWISE=1)
against the default four.

Run: .venv/bin/python benchmarks/gpu.py [--quick] [--variants]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import fmt_time, median_time, try_torch  # noqa: E402

import ferrograd as fg  # noqa: E402


def synced(f):
    def run():
        f()
        fg.synchronize()

    return run


def time_epoch(model, opt, cross_entropy, x, y) -> float:
    """Median time of one epoch of SGD steps over ``x``/``y`` in batches of 64 (the loss
    is read once per epoch, as a logging loop would); the same code drives ferrograd and
    PyTorch."""
    n = x.shape[0]

    def epoch():
        loss = None
        for i in range(0, n - 63, 64):
            opt.zero_grad()
            loss = cross_entropy(model(x[i:i + 64]), y[i:i + 64])
            loss.backward()
            opt.step()
        return loss.item()

    return median_time(epoch, repeat=5)


def mlp_epoch_seconds(device: str) -> float:
    """One epoch of the digits MLP with data, model and optimizer on ``device``."""
    from ferrograd import nn, optim

    images, labels = fg.data.load_digits("train", flatten=True)
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return time_epoch(model, opt, nn.functional.cross_entropy, images.to(device),
                      labels.to(fg.int32).to(device))


def torch_mlp_epoch_seconds(torch) -> float:
    """The same epoch in PyTorch on CUDA (same data, shapes, batch and optimizer)."""
    images, labels = fg.data.load_digits("train", flatten=True)
    torch.manual_seed(0)
    tnn = torch.nn
    model = tnn.Sequential(tnn.Linear(64, 128), tnn.ReLU(), tnn.Linear(128, 10)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.from_numpy(images.numpy()).cuda()
    y = torch.from_numpy(labels.numpy().astype(np.int64)).cuda()
    return time_epoch(model, opt, tnn.functional.cross_entropy, x, y)


def main() -> None:
    if not fg.gpu.is_available():
        print("no GPU adapter visible; see README 'GPU backend'")
        return
    quick = "--quick" in sys.argv
    adapter = fg.gpu.adapters()[0]
    print(f"adapter: {adapter['name']} ({adapter['backend']}, {adapter['type']}, {adapter['driver']})")
    torch = try_torch()
    cuda = torch is not None and torch.cuda.is_available()
    rng = np.random.default_rng(0)
    rows = []

    sizes = [256, 512] if quick else [512, 1024, 2048, 4096] if "--variants" in sys.argv else [1024, 2048, 4096]
    for n in sizes:
        a_np = rng.standard_normal((n, n), dtype=np.float32)
        a_cpu, a_gpu = fg.from_numpy(a_np), fg.from_numpy(a_np).to("gpu")
        np.testing.assert_allclose((a_gpu @ a_gpu).cpu().numpy(), a_np @ a_np, rtol=1e-3, atol=1e-2 * np.sqrt(n))
        flop = 2 * n**3
        t_gpu = median_time(synced(lambda a=a_gpu: a @ a), repeat=5)
        t_cpu = median_time(lambda a=a_cpu: a @ a, repeat=5)
        t_th = None
        if cuda:
            ta = torch.from_numpy(a_np).cuda()
            t_th = median_time(lambda ta=ta: (ta @ ta, torch.cuda.synchronize()), repeat=5)
        rows.append((f"matmul {n}x{n} f32", t_gpu, t_cpu, t_th, f"{flop / t_gpu / 1e9:.1f} GFLOP/s"))
        for variant in ["main", "wide"] if "--variants" in sys.argv else []:
            os.environ["FERROGRAD_GPU_MATMUL"] = variant
            t_v = median_time(synced(lambda a=a_gpu: a @ a), repeat=5)
            del os.environ["FERROGRAD_GPU_MATMUL"]
            rows.append((f"matmul {n}x{n} f32, `{variant}` kernel", t_v, None, None, f"{flop / t_v / 1e9:.1f} GFLOP/s"))

    n = 1 << (20 if quick else 24)
    x_np = rng.standard_normal(n, dtype=np.float32)
    x_cpu, x_gpu = fg.from_numpy(x_np), fg.from_numpy(x_np).to("gpu")
    x_th = torch.from_numpy(x_np).cuda() if cuda else None
    cases = [("a + b", lambda x: x + x, lambda x: x + x, 3), ("a * 2", lambda x: x * 2.0, lambda x: x * 2.0, 2),
             ("exp", fg.exp, "exp", 2), ("sum", fg.sum, "sum", 1)]
    for name, f, f_th, touched in cases:
        t_gpu = median_time(synced(lambda f=f: f(x_gpu)), repeat=5)
        t_cpu = median_time(lambda f=f: f(x_cpu), repeat=5)
        t_th = None
        if cuda:
            f_th = getattr(torch, f_th) if isinstance(f_th, str) else f_th
            t_th = median_time(lambda f=f_th: (f(x_th), torch.cuda.synchronize()), repeat=5)
        rows.append((f"{name}, {n >> 20}M f32", t_gpu, t_cpu, t_th, f"{touched * 4 * n / t_gpu / 1e9:.1f} GB/s"))
        if "--variants" in sys.argv and name != "sum":
            os.environ["FERROGRAD_GPU_ELEMENTWISE"] = "1"
            t_v = median_time(synced(lambda f=f: f(x_gpu)), repeat=5)
            del os.environ["FERROGRAD_GPU_ELEMENTWISE"]
            rows.append((f"{name}, one element per invocation", t_v, None, None, f"{touched * 4 * n / t_v / 1e9:.1f} GB/s"))

    small = fg.ones(16, device="gpu")
    t_batch = median_time(synced(lambda: [small + 1 for _ in range(100)]), repeat=5) / 100
    t_one = median_time(synced(lambda: small + 1), repeat=9)
    rows.append(("a + 1, 16 elements, batched x100", t_batch, None, None, "per dispatch"))
    rows.append(("a + 1, 16 elements, then sync", t_one, None, None, "dispatch + submit + wait"))

    t_gpu, t_cpu = mlp_epoch_seconds("gpu"), mlp_epoch_seconds("cpu")
    t_th = torch_mlp_epoch_seconds(torch) if cuda else None
    rows.append(("digits MLP epoch (64-128-10, batch 64, SGD)", t_gpu, t_cpu, t_th, f"{1437 // 64} steps"))

    print("| case | gpu | ferrograd cpu | torch cuda | gpu rate |\n|---|---|---|---|---|")
    for case, g, c, th, rate in rows:
        print(f"| {case} | {fmt_time(g)} | {fmt_time(c) if c else '-'} | {fmt_time(th) if th else '-'} | {rate} |")


if __name__ == "__main__":
    main()
