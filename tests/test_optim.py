"""ferrograd.optim against numpy re-implementations of PyTorch's update formulas (and
against PyTorch itself where it is installed)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import optim
from ferrograd.optim import lr_scheduler

SHAPES = [(3, 4), (5,)]
STEPS = 6
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-6, atol=1e-6)}
FG_DTYPE = {np.float64: fg.float64, np.float32: fg.float32}


def initial_values(dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def fake_grad(p: np.ndarray, step: int) -> np.ndarray:
    """A deterministic, non-linear 'gradient' of the current value: both sides compute it
    from their own parameter, so only the optimizer's arithmetic can make them differ."""
    return (np.sin(3 * p.astype(np.float64) + step) + 0.1 * p).astype(p.dtype)


# ---- numpy references: PyTorch's _single_tensor_* functions, one parameter at a time


def lerp(a, b, w):
    return a + (b - a) * w if w < 0.5 else b - (b - a) * (1 - w)


def ref_sgd(p, g, st, *, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
            nesterov=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + p * weight_decay
    if momentum:
        st["buf"] = g.copy() if "buf" not in st else st["buf"] * momentum + g * (1 - dampening)
        g = g + st["buf"] * momentum if nesterov else st["buf"]
    return p + g * -lr


def ref_adam(p, g, st, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, maximize=False, decoupled=False):
    beta1, beta2 = betas
    st["step"] = st.get("step", 0) + 1
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + p * weight_decay
    st["m"] = lerp(st.get("m", np.zeros_like(p)), g, 1 - beta1)
    st["v"] = st.get("v", np.zeros_like(p)) * beta2 + g * (1 - beta2) * g
    step_size = lr / (1 - beta1 ** st["step"])
    bc2_sqrt = (1 - beta2 ** st["step"]) ** 0.5
    second = st["v"]
    if amsgrad:
        st["vmax"] = second = np.maximum(st.get("vmax", np.zeros_like(p)), st["v"])
    denom = np.sqrt(second) / bc2_sqrt + eps
    return p + st["m"] * -step_size / denom


def ref_adamw(p, g, st, *, weight_decay=1e-2, **kw):
    return ref_adam(p, g, st, weight_decay=weight_decay, decoupled=True, **kw)


def ref_rmsprop(p, g, st, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + p * weight_decay
    st["sq"] = st.get("sq", np.zeros_like(p)) * alpha + g * (1 - alpha) * g
    if centered:
        st["gavg"] = lerp(st.get("gavg", np.zeros_like(p)), g, 1 - alpha)
        avg = np.sqrt(st["sq"] + st["gavg"] * -1 * st["gavg"]) + eps
    else:
        avg = np.sqrt(st["sq"]) + eps
    if momentum > 0:
        st["buf"] = st.get("buf", np.zeros_like(p)) * momentum + g / avg
        return p + st["buf"] * -lr
    return p + g * -lr / avg


def ref_adagrad(p, g, st, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    st["step"] = st.get("step", 0) + 1
    g = -g if maximize else g
    if weight_decay:
        g = g + p * weight_decay
    clr = lr / (1 + (st["step"] - 1) * lr_decay)
    st["sum"] = st.get("sum", np.full_like(p, initial_accumulator_value)) + g * 1.0 * g
    return p + g * -clr / (np.sqrt(st["sum"]) + eps)


CASES = [
    ("SGD", ref_sgd, dict(lr=0.1)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD", ref_sgd, dict(lr=0.1, weight_decay=0.1)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05,
                          maximize=True)),
    ("Adam", ref_adam, dict(lr=0.05)),
    ("Adam", ref_adam, dict(lr=0.05, amsgrad=True)),
    ("Adam", ref_adam, dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", ref_adam, dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", ref_adamw, dict(lr=0.05)),
    ("AdamW", ref_adamw, dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01, momentum=0.9)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1,
                                  maximize=True)),
    ("Adagrad", ref_adagrad, dict(lr=0.1)),
    ("Adagrad", ref_adagrad, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", ref_adagrad, dict(lr=0.1, weight_decay=0.2, eps=1e-6, maximize=True)),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, _, kw in CASES]


def run_ferrograd(name, kwargs, dtype, steps=STEPS):
    params = [fg.tensor(v, requires_grad=True) for v in initial_values(dtype)]
    opt = getattr(optim, name)(params, **kwargs)
    for step in range(steps):
        for p in params:
            p.grad = fg.from_numpy(fake_grad(p.detach().numpy(), step))
        opt.step()
    return [p.detach().numpy() for p in params], opt


def run_numpy(ref, kwargs, dtype, steps=STEPS):
    params = initial_values(dtype)
    states = [{} for _ in params]
    for step in range(steps):
        params = [ref(p, fake_grad(p, step), st, **kwargs) for p, st in zip(params, states)]
    return params


@pytest.mark.parametrize(("name", "ref", "kwargs"), CASES, ids=CASE_IDS)
def test_composed_path_matches_the_fused_kernel(name, ref, kwargs):
    # Float32/float64 contiguous CPU parameters take the fused Rust step; a transposed
    # (non-contiguous) parameter takes the composed tensor-op path. Same maths, same result.
    def run(transposed):
        params = []
        for v in initial_values(np.float64):
            t = fg.tensor(np.ascontiguousarray(v.T)).T if transposed and v.ndim == 2 else fg.tensor(v)
            params.append(t.requires_grad_())
        opt = getattr(optim, name)(params, **kwargs)
        for step in range(STEPS):
            for p in params:
                p.grad = fg.from_numpy(fake_grad(p.detach().numpy(), step))
            opt.step()
        return [p.detach().numpy() for p in params]

    for a, b in zip(run(False), run(True)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_fused_step_rejects_aliasing_and_bad_state():
    p = fg.zeros(4, requires_grad=True)
    g = fg.ones(4)
    with pytest.raises(ValueError, match="share memory"):
        fg._core._optimizer_step("sgd", [p, p], [g, g], [[], []], [0, 0],
                                 dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                      nesterov=False, maximize=False))
    with pytest.raises(ValueError, match="state tensors"):
        fg._core._optimizer_step("adam", [p], [g], [[None]], [1],
                                 dict(lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0,
                                      amsgrad=False, maximize=False))
    with pytest.raises(KeyError, match="momentum"):
        fg._core._optimizer_step("sgd", [p], [g], [[]], [0], dict(lr=0.1, weight_decay=0.0, maximize=False))
    with pytest.raises(ValueError, match="shape"):
        fg._core._optimizer_step("adagrad", [p], [fg.ones(3)], [[None]], [1],
                                 dict(lr=0.1, lr_decay=0.0, eps=1e-10, weight_decay=0.0, maximize=False))
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros(4))  # nothing was written


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "ref", "kwargs"), CASES, ids=CASE_IDS)
def test_matches_numpy_reference(name, ref, kwargs, dtype):
    got, _ = run_ferrograd(name, kwargs, dtype)
    want = run_numpy(ref, kwargs, dtype)
    start = initial_values(dtype)
    for g, w, s in zip(got, want, start):
        assert g.dtype == dtype
        assert np.abs(w - s).max() > 1e-3  # the parameters really moved
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "ref", "kwargs"), CASES, ids=CASE_IDS)
def test_matches_torch(name, ref, kwargs, dtype):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(v, requires_grad=True) for v in initial_values(dtype)]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for step in range(STEPS):
        for p in params:
            p.grad = torch.from_numpy(fake_grad(p.detach().numpy(), step))
        opt.step()
    got, ours = run_ferrograd(name, kwargs, dtype)
    for g, p in zip(got, params):
        np.testing.assert_allclose(g, p.detach().numpy(), **TOL[dtype])
    # Same buffers under the same names, so state dicts port between the two.
    theirs = opt.state_dict()
    mine = ours.state_dict()
    assert list(mine["state"]) == list(theirs["state"])
    for index, buffers in theirs["state"].items():
        assert set(mine["state"][index]) == set(buffers)
        for key, value in buffers.items():
            np.testing.assert_allclose(mine["state"][index][key].numpy(), value.numpy(),
                                       **TOL[dtype])
    assert mine["param_groups"][0]["params"] == theirs["param_groups"][0]["params"]


def test_training_with_autograd_matches_closed_form_gradient():
    """Least squares through loss.backward(): SGD with momentum against numpy with the
    analytic gradient 2/N X^T (XW - y)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    w0 = rng.standard_normal((3, 2))
    w = fg.tensor(w0, requires_grad=True)
    opt = optim.SGD([w], lr=0.05, momentum=0.9, nesterov=True)
    xt, yt = fg.tensor(x), fg.tensor(y)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = ((xt @ w - yt) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    wn, st = w0.copy(), {}
    for _ in range(10):
        grad = 2 / y.size * x.T @ (x @ wn - y)
        wn = ref_sgd(wn, grad, st, lr=0.05, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(w.detach().numpy(), wn, rtol=1e-12, atol=1e-14)
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize(("name", "ref", "kwargs"),
                         [CASES[2], CASES[9], CASES[15], CASES[17]],
                         ids=[CASE_IDS[i] for i in (2, 9, 15, 17)])
def test_state_dict_round_trip_continues_identically(name, ref, kwargs):
    _, opt = run_ferrograd(name, kwargs, np.float64, steps=3)
    snapshot = copy.deepcopy(opt.state_dict())
    params = [p for g in opt.param_groups for p in g["params"]]
    clones = [p.detach().clone().requires_grad_(True) for p in params]
    resumed = getattr(optim, name)(clones, lr=123.0)  # options come from the state dict
    resumed.load_state_dict(snapshot)
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    for step in range(3, 6):
        for a, b in zip(params, clones):
            a.grad = fg.from_numpy(fake_grad(a.detach().numpy(), step))
            b.grad = fg.from_numpy(fake_grad(b.detach().numpy(), step))
        opt.step()
        resumed.step()
    for a, b in zip(params, clones):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # Loading copied the buffers: the snapshot did not move with `resumed`.
    key = next(iter(snapshot["state"][0]))
    assert not snapshot["state"][0][key].shares_memory_with(resumed.state[clones[0]][key])


def test_load_state_dict_casts_buffers_to_parameter_dtype():
    _, opt = run_ferrograd("Adam", {"lr": 0.1}, np.float64, steps=2)
    p32 = [fg.tensor(v, requires_grad=True) for v in initial_values(np.float32)]
    opt32 = optim.Adam(p32)
    opt32.load_state_dict(opt.state_dict())
    state = opt32.state[p32[0]]
    assert state["exp_avg"].dtype == fg.float32
    assert state["step"].dtype == fg.float32 and state["step"].item() == 2.0


def test_param_groups_with_different_lr_and_defaults():
    values = initial_values(np.float64)
    a, b = (fg.tensor(v, requires_grad=True) for v in values)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01, "momentum": 0.5}],
                    lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    assert opt.param_groups[0]["dampening"] == 0.0  # filled from the defaults
    states = [{}, {}]
    refs = [v.copy() for v in values]
    for step in range(4):
        for p in (a, b):
            p.grad = fg.from_numpy(fake_grad(p.detach().numpy(), step))
        opt.step()
        refs[0] = ref_sgd(refs[0], fake_grad(refs[0], step), states[0], lr=0.1, momentum=0.9)
        refs[1] = ref_sgd(refs[1], fake_grad(refs[1], step), states[1], lr=0.01, momentum=0.5)
    np.testing.assert_allclose(a.detach().numpy(), refs[0], rtol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), refs[1], rtol=1e-12)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sorted(sd["state"]) == [0, 1]
    c = fg.zeros(2, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 0.5})
    assert opt.param_groups[2]["momentum"] == 0.9
    assert opt.state_dict()["param_groups"][2]["params"] == [2]
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_and_closure():
    w = fg.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, -1.0])  # w - 0.25 * 2w
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # no gradient: nothing moves, no state is created
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, -1.0])


def test_invalid_arguments():
    w = fg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError):
        optim.SGD(w, lr=0.1)


# ---- learning-rate schedulers: sequences against closed forms (and PyTorch)

BASES = [0.1, 0.05]
EPOCHS = 14


def one_cycle(step, base_peak, total, anneal, pct=0.3, div=25.0, final_div=1e4):
    def cos(a, b, t):
        return b + (a - b) / 2 * (math.cos(math.pi * t) + 1)

    def lin(a, b, t):
        return (b - a) * t + a

    f = cos if anneal == "cos" else lin
    rise_end = pct * total - 1
    low = base_peak / div
    if step <= rise_end:
        t = step / rise_end
        return f(low, base_peak, t), f(0.95, 0.85, t)
    t = (step - rise_end) / (total - 1 - rise_end)
    return f(base_peak, low / final_div, t), f(0.85, 0.95, t)


SCHEDULES = {
    "StepLR": (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
               lambda b, e: b * 0.5 ** (e // 3)),
    "MultiStepLR": (lambda o: lr_scheduler.MultiStepLR(o, [2, 5, 5, 9], gamma=0.1),
                    lambda b, e: b * 0.1 ** sum(m <= e for m in [2, 5, 5, 9])),
    "ExponentialLR": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
                      lambda b, e: b * 0.9**e),
    "CosineAnnealingLR": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
                          lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 5)) / 2),
    "LinearLR": (lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
                 lambda b, e: b * (0.25 + 0.75 * min(e, 4) / 4)),
    "LambdaLR": (lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
                 lambda b, e: b / (1 + e)),
    "SequentialLR": (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
                lr_scheduler.ExponentialLR(o, gamma=0.9)], milestones=[3]),
        lambda b, e: b * (0.1 + 0.9 * e / 3) if e < 3 else b * 0.9 ** (e - 3)),
}


def two_group_sgd(module):
    a, b = module.zeros(2, requires_grad=True), module.zeros(3, requires_grad=True)
    return module.optim.SGD([{"params": [a]}, {"params": [b], "lr": BASES[1]}], lr=BASES[0],
                            momentum=0.9)


def lr_sequence(opt, scheduler, epochs=EPOCHS):
    seq = [scheduler.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        scheduler.step()
        seq.append(scheduler.get_last_lr())
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(seq)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_closed_form(name):
    make, closed = SCHEDULES[name]
    opt = two_group_sgd(fg)
    got = lr_sequence(opt, make(opt))
    want = np.array([[closed(b, e) for b in BASES] for e in range(EPOCHS + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def torch_scheduler(torch, name, opt):
    sch = torch.optim.lr_scheduler
    return {
        "StepLR": lambda: sch.StepLR(opt, step_size=3, gamma=0.5),
        "MultiStepLR": lambda: sch.MultiStepLR(opt, [2, 5, 5, 9], gamma=0.1),
        "ExponentialLR": lambda: sch.ExponentialLR(opt, gamma=0.9),
        "CosineAnnealingLR": lambda: sch.CosineAnnealingLR(opt, T_max=5, eta_min=0.001),
        "LinearLR": lambda: sch.LinearLR(opt, start_factor=0.25, total_iters=4),
        "LambdaLR": lambda: sch.LambdaLR(opt, lambda e: 1 / (1 + e)),
        "SequentialLR": lambda: sch.SequentialLR(
            opt, [sch.LinearLR(opt, start_factor=0.1, total_iters=3),
                  sch.ExponentialLR(opt, gamma=0.9)], milestones=[3]),
    }[name]()


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_torch(name):
    torch = pytest.importorskip("torch")
    t_opt = two_group_sgd(torch)
    want = lr_sequence(t_opt, torch_scheduler(torch, name, t_opt))
    opt = two_group_sgd(fg)
    got = lr_sequence(opt, SCHEDULES[name][0](opt))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_one_cycle(anneal, opt_name):
    total = 20
    w = fg.zeros(2, requires_grad=True)
    kwargs = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = getattr(optim, opt_name)([w], lr=0.1, **kwargs)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, anneal_strategy=anneal)
    lrs, moms = [], []
    for step in range(total):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["momentum"] if opt_name == "SGD" else group["betas"][0])
        opt.step()
        if step < total - 1:
            sched.step()
    want = np.array([one_cycle(s, 1.0, total, anneal) for s in range(total)])
    np.testing.assert_allclose(lrs, want[:, 0], rtol=1e-12)
    np.testing.assert_allclose(moms, want[:, 1], rtol=1e-12)
    assert max(lrs) == pytest.approx(1.0) and lrs[0] == pytest.approx(0.04)
    if opt_name == "Adam":
        assert opt.param_groups[0]["betas"][1] == 0.999
    with pytest.raises(ValueError, match="Tried to step"):
        sched.step()
        sched.step()


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_one_cycle_matches_torch(anneal, opt_name):
    torch = pytest.importorskip("torch")
    total = 20
    kwargs = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = getattr(optim, opt_name)([fg.zeros(2, requires_grad=True)], lr=0.1, **kwargs)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, anneal_strategy=anneal)
    tw = torch.zeros(2, requires_grad=True)
    t_opt = getattr(torch.optim, opt_name)([tw], lr=0.1, **kwargs)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=1.0, total_steps=total,
                                                  anneal_strategy=anneal)
    key = "momentum" if opt_name == "SGD" else "betas"
    for _ in range(total - 1):
        for ours, theirs in zip(opt.param_groups, t_opt.param_groups):
            assert ours["lr"] == pytest.approx(theirs["lr"], rel=1e-14)
            assert ours[key] == pytest.approx(theirs[key], rel=1e-14)
        opt.step()
        sched.step()
        t_opt.step()
        t_sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(t_opt.param_groups[0]["lr"], rel=1e-14)


def test_scheduler_state_dict_resumes():
    opt = two_group_sgd(fg)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    for _ in range(4):
        opt.step()
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), copy.deepcopy(opt.state_dict())
    assert saved_sched["last_epoch"] == 4 and "optimizer" not in saved_sched
    opt2 = two_group_sgd(fg)
    opt2.load_state_dict(saved_opt)
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=6, last_epoch=3)
    sched2.load_state_dict(saved_sched)
    for _ in range(5):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
