"""Training speed, ferrograd against PyTorch's CPU build (if installed) in one process:
one epoch of an MLP (64-128-10, batch 64, SGD) over the embedded digits, and one
training step of the demo's CNN (batch 32, AdamW). Targets (issue 6): the MLP epoch
takes at most 0.7x PyTorch's time ("vs torch" >= 1.43x); the CNN step is no slower
("vs torch" >= 1.0x). Both libraries run on one thread, as the demo's small batches do
best there."""

from __future__ import annotations

import numpy as np
from _harness import median_time, table, try_torch

import ferrograd as fg
from ferrograd import data, nn, optim
from ferrograd.demo import build_model

torch = try_torch()


def batches(n: int, size: int, seed: int = 0):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i:i + size] for i in range(0, n - size + 1, size)]


def train_step(model, opt, loss_fn, xb, yb):
    """One optimizer step on one batch, for either library (same method names)."""
    def step():
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()

    return step


def train_epoch(model, opt, loss_fn, xs, ys):
    steps = [train_step(model, opt, loss_fn, xb, yb) for xb, yb in zip(xs, ys)]

    def epoch():
        for step in steps:
            step()

    return epoch


def mlp_epoch_fg(x, y, idx):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    xs = [x[fg.tensor(i)] for i in idx]
    ys = [y[fg.tensor(i)] for i in idx]

    return train_epoch(model, opt, loss_fn, xs, ys)


def mlp_epoch_torch(x, y, idx):
    tnn = torch.nn
    model = tnn.Sequential(tnn.Flatten(), tnn.Linear(64, 128), tnn.ReLU(), tnn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = tnn.CrossEntropyLoss()
    xs = [x[torch.from_numpy(i)] for i in idx]
    ys = [y[torch.from_numpy(i)] for i in idx]

    return train_epoch(model, opt, loss_fn, xs, ys)


def cnn_step_fg(xb, yb):
    model = build_model("cnn")
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    return train_step(model, opt, loss_fn, xb, yb)


def cnn_step_torch(xb, yb):
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(128, 10),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = tnn.CrossEntropyLoss()

    return train_step(model, opt, loss_fn, xb, yb)


def main() -> None:
    train = data.load_digits("train")
    x_np, y_np = train.images.numpy(), train.labels.numpy()
    idx = batches(len(y_np), 64)
    rows = []

    if torch is not None:
        torch.set_num_threads(1)
    x, y = fg.tensor(x_np), fg.tensor(y_np)
    t_fg = median_time(mlp_epoch_fg(x, y, idx), repeat=7)
    t_th = None
    if torch is not None:
        t_th = median_time(mlp_epoch_torch(torch.from_numpy(x_np), torch.from_numpy(y_np), idx), repeat=7)
    rows.append((f"MLP epoch 64-128-10, SGD, {len(idx)} batches of 64", t_fg, None, t_th, "<= 0.7x torch"))

    xb_np, yb_np = x_np[:32], y_np[:32]
    t_fg = median_time(cnn_step_fg(fg.tensor(xb_np), fg.tensor(yb_np)))
    t_th = None
    if torch is not None:
        t_th = median_time(cnn_step_torch(torch.from_numpy(xb_np), torch.from_numpy(yb_np)))
    rows.append(("demo CNN train step, batch 32, AdamW", t_fg, None, t_th, "<= 1.0x torch"))

    print(table(rows))


if __name__ == "__main__":
    main()
