"""``python -m ferrograd.demo``: train a small CNN (or an MLP) on the 8x8 handwritten
digits that ship with ferrograd, with ferrograd.nn, ferrograd.optim and ferrograd.data.

It prints one line per epoch (loss, train and test accuracy), writes a checkpoint (model,
optimizer and scheduler state, history and options) with ``ferrograd.save`` into
``--out``, and with ``--plot FILE`` draws the learning curves (needs matplotlib). The
same ``--seed`` gives the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import ferrograd as fg
from ferrograd import nn
from ferrograd.data import DataLoader, TensorDataset, load_digits

DEFAULT_EPOCHS = {"cnn": 10, "mlp": 25}
DEFAULT_LR = 1e-2


class DemoError(Exception):
    """A problem with the options or the machine: reported in one line, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise DemoError(f"{message} (see --help)", exit_code=2)


def parse_args(argv) -> argparse.Namespace:
    p = _Parser(prog="python -m ferrograd.demo",
                description="Train a small CNN (or an MLP) on the 8x8 digits shipped with "
                            "ferrograd; print per-epoch accuracy and save a checkpoint.")
    p.add_argument("--model", choices=("cnn", "mlp"), default="cnn", help="network (default cnn)")
    p.add_argument("--epochs", type=int, help="passes over the training set "
                   f"(default {DEFAULT_EPOCHS['cnn']} for cnn, {DEFAULT_EPOCHS['mlp']} for mlp)")
    p.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    p.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule "
                   f"(default {DEFAULT_LR:g})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="default cpu")
    p.add_argument("--out", type=Path, default=Path("demo-out"),
                   help="directory for the checkpoint (default ./demo-out)")
    p.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="write loss/accuracy curves here (needs matplotlib)")
    args = p.parse_args(argv)
    args.epochs = DEFAULT_EPOCHS[args.model] if args.epochs is None else args.epochs
    args.lr = DEFAULT_LR if args.lr is None else args.lr
    for name in ("epochs", "batch_size"):
        if getattr(args, name) <= 0:
            raise DemoError(f"--{name.replace('_', '-')} must be positive", exit_code=2)
    if not args.lr > 0:
        raise DemoError("--lr must be positive", exit_code=2)
    return args


def build_model(kind: str):
    """The CNN: two conv-BN-ReLU-pool blocks (8x8 -> 4x4 -> 2x2) and a linear layer."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),                                    # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),                                    # 32 x 2 x 2
        nn.Flatten(), nn.Linear(128, 10),
    )


def check_device(device: str, model_kind: str) -> None:
    """Fails early, in one line, when ``device`` is missing or cannot run a training step
    of this model (the GPU backend does not have every op's kernel yet)."""
    try:
        fg.zeros(1, device=device)
    except (RuntimeError, ValueError) as e:
        raise DemoError(f"--device {device}: {e}") from None
    if device == "cpu":
        return
    try:
        model = build_model(model_kind).to(device)
        images, labels = fg.zeros((4, 1, 8, 8)).to(device), fg.zeros(4, dtype=fg.int32).to(device)
        batch = fg.tensor([0, 2], dtype=fg.int32).to(device)  # what the DataLoader does
        nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
    except (RuntimeError, TypeError) as e:
        reason = str(e).splitlines()[0]
        raise DemoError(f"--device {device}: this model cannot train there yet ({reason})") from None


def on_device(images, labels, device: str):
    """The data where the model is; the GPU holds int32, not int64, class labels."""
    if device == "cpu":
        return images, labels
    return images.to(device), labels.to(fg.int32).to(device)


def check_plotting(path) -> None:
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DemoError("--plot needs matplotlib, which is not installed "
                        "(pip install matplotlib)") from None


# ---- progress


class _LineBar:
    """A one-line progress bar on stderr for when tqdm is not installed (drawn only on a
    terminal, so logs stay clean)."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.start = time.perf_counter()
        self.live = sys.stderr.isatty()
        self.postfix = ""

    def update(self, n: int) -> None:
        self.done += n
        if self.live:
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            filled = round(24 * self.done / self.total)
            sys.stderr.write(f"\r{self.desc} [{'#' * filled}{'.' * (24 - filled)}] "
                             f"{self.done}/{self.total} {rate:,.0f} img/s {self.postfix}")
            sys.stderr.flush()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def progress_bar(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return _LineBar(total, desc)
    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=None,
                file=sys.stderr, dynamic_ncols=True)


# ---- training


def warn_about_missing_gradients(model) -> None:
    """A parameter left without a gradient after backward would silently keep its initial
    values (an op in this build without a backward, say): tell the user once."""
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    if missing:
        print(f"warning: {len(missing)} parameter tensors got no gradient and will not train "
              f"({', '.join(missing)})", file=sys.stderr)


def train_epoch(model, loader, optimizer, scheduler, desc: str,
                check_gradients: bool = False) -> tuple[float, float, float]:
    """One pass; returns (mean loss, accuracy, images per second)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = progress_bar(len(loader.dataset), desc)
    start = time.perf_counter()
    for images, labels in loader:
        logits = model(images)
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        if check_gradients:
            warn_about_missing_gradients(model)
            check_gradients = False
        optimizer.step()
        scheduler.step()
        n = labels.shape[0]
        total_loss += loss.item() * n
        correct += int((logits.detach().argmax(1) == labels).sum().item())
        seen += n
        bar.set_postfix_str(f"loss {total_loss / seen:.4f}", refresh=False)
        bar.update(n)
    bar.close()
    return total_loss / seen, correct / seen, seen / (time.perf_counter() - start)


def accuracy(model, images, labels) -> float:
    model.eval()
    with fg.no_grad():
        predicted = model(images).argmax(1)
    return float((predicted == labels).sum().item()) / labels.shape[0]


def save_plot(path: Path, history: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["loss"], marker="o")
    ax_loss.set(title="training loss", xlabel="epoch", yscale="log")
    ax_acc.plot(epochs, [100 * a for a in history["train_acc"]], marker="o", label="train")
    ax_acc.plot(epochs, [100 * a for a in history["test_acc"]], marker="o", label="test")
    ax_acc.set(title="accuracy (%)", xlabel="epoch")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> dict:
    check_device(args.device, args.model)
    check_plotting(args.plot)
    args.out.mkdir(parents=True, exist_ok=True)  # fail before training, not after
    fg.manual_seed(args.seed)

    train, test = load_digits("train"), load_digits("test")
    train_images, train_labels = on_device(train.images, train.labels, args.device)
    test_images, test_labels = on_device(test.images, test.labels, args.device)
    loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=args.batch_size,
                        shuffle=True, generator=args.seed)
    model = build_model(args.model).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = fg.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = fg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                 steps_per_epoch=len(loader))
    print(f"ferrograd {fg.__version__}: {args.model} ({n_params:,} parameters) on "
          f"{len(train.labels)} train / {len(test.labels)} test digits, {args.epochs} epochs, "
          f"batch {args.batch_size}, AdamW + one-cycle lr {args.lr:g}, seed {args.seed}, "
          f"{args.device}", flush=True)

    history = {"loss": [], "train_acc": [], "test_acc": [], "images_per_s": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        desc = f"epoch {epoch:>{len(str(args.epochs))}}/{args.epochs}"
        loss, train_acc, speed = train_epoch(model, loader, optimizer, scheduler, desc,
                                             check_gradients=epoch == 1)
        test_acc = accuracy(model, test_images, test_labels)
        for key, value in zip(history, (loss, train_acc, test_acc, speed)):
            history[key].append(value)
        print(f"{desc}  loss {loss:.4f}  train acc {100 * train_acc:6.2f}%  "
              f"test acc {100 * test_acc:6.2f}%  ({speed:,.0f} img/s)", flush=True)
    elapsed = time.perf_counter() - start

    checkpoint_path = args.out / f"digits_{args.model}.safetensors"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    fg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": args.epochs, "config": config,
             "history": history}, checkpoint_path)
    print(f"final test accuracy {100 * history['test_acc'][-1]:.2f}% after {elapsed:.1f} s "
          f"of training; checkpoint: {checkpoint_path}")
    if args.plot is not None:
        save_plot(args.plot, history)
        print(f"learning curves: {args.plot}")
    return history


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        run(args)
    except DemoError as e:
        print(f"python -m ferrograd.demo: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # --out or --plot not writable, say
        print(f"python -m ferrograd.demo: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
