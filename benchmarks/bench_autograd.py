"""Autograd recording overhead: a tiny forward + backward, ferrograd against PyTorch's
CPU build (if installed) in one process. Target: ferrograd takes at most 0.3x
PyTorch's time, i.e. the "vs torch" column shows >= 3.33x."""

from __future__ import annotations

import numpy as np
from _harness import median_time, table

import ferrograd as fg

try:
    import torch
except ImportError:  # the table then shows ferrograd alone
    torch = None


def main() -> None:
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((1, 4)).astype(np.float32)
    wn = rng.standard_normal((4, 4)).astype(np.float32)
    rows = []

    x = fg.tensor(xn, requires_grad=True)
    w = fg.tensor(wn, requires_grad=True)

    def fg_step():
        ((x @ w).relu() * 2 + 1).sum().backward()

    t_th = None
    if torch is not None:
        torch.set_num_threads(1)
        tx = torch.tensor(xn, requires_grad=True)
        tw = torch.tensor(wn, requires_grad=True)

        def th_step():
            ((tx @ tw).relu() * 2 + 1).sum().backward()

        t_th = median_time(th_step)
    rows.append(("fwd+bwd ((x@w).relu()*2+1).sum(), 1x4 @ 4x4", median_time(fg_step), None, t_th, "<= 0.3x torch"))

    # A small MLP step, forward + backward, batch 64: 64 -> 128 -> 10.
    a = fg.tensor(rng.standard_normal((64, 64)).astype(np.float32))
    w1 = fg.tensor(rng.standard_normal((64, 128)).astype(np.float32) * 0.1, requires_grad=True)
    w2 = fg.tensor(rng.standard_normal((128, 10)).astype(np.float32) * 0.1, requires_grad=True)

    def fg_mlp():
        fg.logsumexp((a @ w1).relu() @ w2, axis=1).mean().backward()

    t_mlp = None
    if torch is not None:
        ta = torch.tensor(np.asarray(a))
        tw1 = torch.tensor(np.asarray(w1.detach()), requires_grad=True)
        tw2 = torch.tensor(np.asarray(w2.detach()), requires_grad=True)

        def th_mlp():
            torch.logsumexp((ta @ tw1).relu() @ tw2, dim=1).mean().backward()

        t_mlp = median_time(th_mlp)
    rows.append(("MLP fwd+bwd 64x64 -> 128 -> 10", median_time(fg_mlp), None, t_mlp, ""))
    print(table(rows))


if __name__ == "__main__":
    main()
