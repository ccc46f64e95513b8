"""``python -m ferrograd.demo`` end to end: it trains, states its accuracy truthfully,
writes a checkpoint that reproduces that accuracy, and reports bad options in one line."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import ferrograd as fg


def run_demo(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ferrograd.demo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def stated_accuracies(stdout: str) -> list[float]:
    return [float(m) for m in re.findall(r"test acc\s+([\d.]+)%", stdout)]


def checkpoint_accuracy(path, model_kind: str) -> float:
    """Rebuilds the network from the checkpoint and measures it on the test split."""
    from ferrograd import demo

    checkpoint = fg.load(path)
    model = demo.build_model(model_kind)
    model.load_state_dict(checkpoint["model"])
    test = fg.data.load_digits("test")
    return demo.accuracy(model, test.images, test.labels)


@pytest.mark.parametrize(("model", "minimum"), [("cnn", 97.0), ("mlp", 90.0)])
def test_demo_trains_and_its_checkpoint_reproduces_the_stated_accuracy(tmp_path, model, minimum):
    result = run_demo("--epochs", "3", "--model", model, "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accs = stated_accuracies(result.stdout)
    assert len(accs) == 3  # one line per epoch
    final = float(re.search(r"final test accuracy ([\d.]+)%", result.stdout).group(1))
    assert final == accs[-1] >= minimum
    path = tmp_path / "out" / f"digits_{model}.safetensors"
    checkpoint = fg.load(path)
    assert checkpoint["epoch"] == 3 and checkpoint["config"]["model"] == model
    assert [round(100 * a, 2) for a in checkpoint["history"]["test_acc"]] == accs
    assert sorted(checkpoint["optimizer"]["state"]) == list(range(len(checkpoint["model"])
                                                               - _buffers(checkpoint["model"])))
    assert round(100 * checkpoint_accuracy(path, model), 2) == final


def _buffers(state_dict) -> int:
    return sum(k.endswith(("running_mean", "running_var", "num_batches_tracked"))
               for k in state_dict)


def test_same_seed_same_run(tmp_path):
    def losses(seed):
        out = run_demo("--model", "mlp", "--epochs", "2", "--seed", seed, "--out", "o",
                       cwd=tmp_path).stdout
        return re.findall(r"loss (\S+)\s+train acc\s+(\S+)\s+test acc\s+(\S+)", out)

    first = losses("7")
    assert len(first) == 2
    assert losses("7") == first
    assert losses("8") != first


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "--epochs must be positive"),
    (["--epochs", "three"], "invalid int value"),
    (["--model", "resnet"], "invalid choice"),
    (["--lr", "-1"], "--lr must be positive"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_options_give_one_line_and_exit_code_2(tmp_path, args, message):
    result = run_demo(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_demo_trains_on_the_gpu(tmp_path, gpu_device):
    """The CNN (conv, batch norm, max pooling, fused cross-entropy and AdamW kernels)
    trains on the GPU; its checkpoint, loaded on the CPU, scores what the demo stated."""
    result = run_demo("--device", "gpu", "--epochs", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = float(re.search(r"final test accuracy ([\d.]+)%", result.stdout).group(1))
    assert final >= 85.0
    # CPU and GPU float32 sums differ in the last bits, which may flip one borderline
    # digit out of 360 (0.28%).
    assert abs(100 * checkpoint_accuracy(tmp_path / "out" / "digits_cnn.safetensors", "cnn") - final) <= 0.3


def test_unavailable_device_or_missing_matplotlib_is_one_line_exit_1(tmp_path, monkeypatch):
    # No Metal adapter on Linux (nor any adapter on a machine without a driver).
    monkeypatch.setenv("FERROGRAD_GPU_BACKEND", "metal" if sys.platform != "darwin" else "dx12")
    result = run_demo("--device", "gpu", "--epochs", "1", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "--device gpu:" in lines[0] and "no GPU adapter found" in lines[0]
    assert "Traceback" not in result.stderr
    try:
        import matplotlib  # noqa: F401

        result = run_demo("--model", "mlp", "--epochs", "1", "--plot", "c.png", cwd=tmp_path)
        assert result.returncode == 0 and (tmp_path / "c.png").stat().st_size > 1000
    except ImportError:
        result = run_demo("--model", "mlp", "--epochs", "1", "--plot", "c.png", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip() == ("python -m ferrograd.demo: error: --plot needs "
                                         "matplotlib, which is not installed (pip install "
                                         "matplotlib)")
        assert result.stdout == "" and not (tmp_path / "demo-out").exists()  # before training


def test_builtin_progress_bar_draws_one_line_on_a_terminal(monkeypatch):
    import io

    from ferrograd import demo

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = demo._LineBar(total=100, desc="epoch 1/2")
    bar.set_postfix_str("loss 0.5000")
    bar.update(50)
    bar.update(50)
    bar.close()
    frames = screen.getvalue().split("\r")[1:]
    assert len(frames) == 3 and "\n" not in screen.getvalue()
    assert frames[0].startswith("epoch 1/2 [############............] 50/100 ")
    assert frames[1].startswith("epoch 1/2 [########################] 100/100 ")
    assert "img/s loss 0.5000" in frames[1] and frames[2] == "\033[K"
