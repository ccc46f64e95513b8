"""ferrograd.nn: Parameter, Module bookkeeping (registration, traversal, modes, to(),
state_dict), containers, reprs, init and utils."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import nn


def arr(t):
    return np.asarray(t.detach())


class Block(nn.Module):
    """A module with a parameter, a persistent and a non-persistent buffer, children."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(fg.ones(4))
        self.register_buffer("count", fg.zeros(()))
        self.register_buffer("cache", fg.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.Linear(4, 2), nn.Tanh())


# ---- Parameter -------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_sharing_storage():
    data = fg.arange(6, dtype=fg.float32).reshape(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, fg.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.shares_memory_with(data)
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    # Ops on a Parameter give plain tensors with history, as in PyTorch.
    y = p * 2
    assert type(y) is fg.Tensor and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(arr(p.grad), np.full((2, 3), 2.0, np.float32))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not isinstance(data, nn.Parameter)


def test_parameter_from_non_leaf_is_a_new_leaf():
    x = fg.randn(3, requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_parameter_data_and_deepcopy():
    p = nn.Parameter(fg.tensor([1.0, 2.0]))
    assert type(p.data) is fg.Tensor and not p.data.requires_grad
    p.data = fg.tensor([5.0, 6.0])
    np.testing.assert_array_equal(arr(p), [5.0, 6.0])
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and not q.shares_memory_with(p)
    np.testing.assert_array_equal(arr(q), [5.0, 6.0])
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


# ---- registration and traversal ----------------------------------------------------------


def test_setattr_registers_parameters_modules_and_buffers():
    b = Block()
    assert list(b._parameters) == ["scale"]
    assert list(b._modules) == ["fc", "act"]
    assert list(b._buffers) == ["count", "cache"]
    assert b.note == "plain attribute" and "note" in b.__dict__
    assert [n for n, _ in b.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == ["count", "cache"]
    assert [n for n, _ in b.named_children()] == ["fc", "act"]
    assert all(isinstance(p, nn.Parameter) for p in b.parameters())
    assert len(list(b.parameters(recurse=False))) == 1
    # Re-assigning None keeps the slot registered; a plain tensor is refused.
    b.scale = None
    assert "scale" in b._parameters and b.scale is None
    with pytest.raises(TypeError):
        b.scale = fg.ones(4)
    del b.act
    assert "act" not in b._modules
    with pytest.raises(AttributeError):
        b.act  # noqa: B018


def test_named_modules_and_shared_parameters():
    net = Net()
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "block", "block.fc", "block.act", "head", "head.0", "head.1"]
    assert len(list(net.modules())) == 7
    assert net.get_submodule("head.0") is net.head[0]
    assert net.get_parameter("block.fc.bias") is net.block.fc.bias
    assert net.get_buffer("block.count") is net.block.count
    # A shared module is listed once (PyTorch's remove_duplicate).
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", fg.zeros(1))
    with pytest.raises(TypeError):
        m.register_buffer("b", [1, 2])
    with pytest.raises(TypeError):
        m.register_parameter("w", fg.zeros(2))
    m.plain = 3
    with pytest.raises(KeyError):
        m.register_parameter("plain", nn.Parameter(fg.zeros(1)))
    with pytest.raises(TypeError):
        m.add_module("x", "not a module")

    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(fg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()
    with pytest.raises(NotImplementedError):
        nn.Module()(fg.zeros(1))


def test_train_eval_apply_requires_grad_and_zero_grad():
    net = Net()
    assert net.training and net.block.fc.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Block", "Linear", "Tanh", "Sequential", "Net"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    out = net.head(net.block(fg.randn(5, 3)))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(abs(p.grad).sum().item()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(fg.ones(3, 2))
    np.testing.assert_allclose(arr(out), np.broadcast_to(arr(lin.bias) + 1, (3, 2)), rtol=1e-6)
    assert calls == [(3, 2)]
    pre.remove()
    post.remove()
    np.testing.assert_allclose(arr(lin(fg.zeros(1, 2))), arr(lin.bias)[None], rtol=1e-6)


def test_to_dtype_converts_floating_state_only():
    net = Net()
    net.block.register_buffer("steps", fg.zeros(2, dtype=fg.int64))
    before = {n: arr(p).copy() for n, p in net.named_parameters()}
    assert net.to(fg.float64) is net
    for name, p in net.named_parameters():
        assert isinstance(p, nn.Parameter) and p.dtype == fg.float64 and p.requires_grad
        np.testing.assert_array_equal(arr(p), before[name].astype(np.float64))
    assert net.block.count.dtype == fg.float64
    assert net.block.steps.dtype == fg.int64
    out = net.head(net.block(fg.randn(2, 3, dtype=fg.float64)))
    assert out.dtype == fg.float64
    # Same device and dtype: the very same Parameter objects stay.
    w = net.block.fc.weight
    net.to("cpu")
    assert net.block.fc.weight is w
    net.to(device="cpu", dtype=fg.float64)
    assert net.block.fc.weight is w
    net.float()
    assert net.block.fc.weight.dtype == fg.float32
    with pytest.raises(TypeError):
        net.to(fg.int32)


# ---- state dict ---------------------------------------------------------------------------


def test_state_dict_names_detached_values_and_non_persistent_buffers():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["block.scale", "block.count", "block.fc.weight", "block.fc.bias", "head.0.weight",
                        "head.0.bias"]
    assert all(type(v) is fg.Tensor and not v.requires_grad for v in sd.values())
    assert sd["block.fc.weight"].shares_memory_with(net.block.fc.weight)
    kept = net.state_dict(keep_vars=True)
    assert kept["block.fc.weight"] is net.block.fc.weight


def test_state_dict_round_trip():
    a, b = Net(), Net()
    with fg.no_grad():
        a.block.count.fill_(7.0)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(arr(pa), arr(pb))
        assert not pa.shares_memory_with(pb)
    x = fg.randn(4, 3)
    np.testing.assert_array_equal(arr(a.head(a.block(x))), arr(b.head(b.block(x))))
    # The loaded values were copied in: the parameters are still the same objects.
    assert isinstance(b.block.fc.weight, nn.Parameter) and b.block.fc.weight.requires_grad


def test_load_state_dict_strict_errors_and_non_strict_result():
    net = Net()
    sd = net.state_dict()
    del sd["head.0.bias"]
    sd["head.0.extra"] = fg.zeros(1)
    sd["stray"] = fg.zeros(1)
    with pytest.raises(RuntimeError) as err:
        Net().load_state_dict(sd)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "head.0.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "stray", "head.0.extra". ' in msg
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.0.bias"]
    assert result.unexpected_keys == ["stray", "head.0.extra"]
    assert "missing_keys=['head.0.bias']" in repr(result)
    bad = net.state_dict()
    bad["block.fc.weight"] = fg.zeros(2, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for block\.fc\.weight: copying a param with shape "
                                           r"\(2, 2\) from checkpoint, the shape in current model is \(4, 3\)"):
        Net().load_state_dict(bad, strict=False)


def test_load_state_dict_casts_and_accepts_numpy():
    lin = nn.Linear(2, 2)
    src = {"weight": np.arange(4.0).reshape(2, 2), "bias": fg.tensor([1.0, 2.0], dtype=fg.float64)}
    lin.load_state_dict(src)
    assert lin.weight.dtype == fg.float32
    np.testing.assert_array_equal(arr(lin.weight), np.arange(4.0, dtype=np.float32).reshape(2, 2))
    np.testing.assert_array_equal(arr(lin.bias), [1.0, 2.0])


def test_deepcopy_module_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    assert isinstance(twin.block.fc.weight, nn.Parameter)
    assert not twin.block.fc.weight.shares_memory_with(net.block.fc.weight)
    np.testing.assert_array_equal(arr(twin.block.fc.weight), arr(net.block.fc.weight))
    with fg.no_grad():
        twin.block.fc.weight.fill_(0.0)
    assert float(abs(net.block.fc.weight).sum().item()) > 0


# ---- containers ----------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_mutation():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert list(sub._modules) == ["1", "2"]
    x = fg.randn(4, 2)
    ref = layers[2](layers[1](layers[0](x)))
    np.testing.assert_array_equal(arr(seq(x)), arr(ref))
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert list(seq._modules) == ["0", "1", "2"]
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    with pytest.raises(IndexError):
        seq[10]  # noqa: B018
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_children()] == ["enc", "act"]
    assert "enc.weight" in named.state_dict()


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    assert isinstance(ml[-1], nn.Tanh) and len(ml) == 5
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    ml.insert(1, nn.Sigmoid())
    assert isinstance(ml[1], nn.Sigmoid) and len(ml) == 5
    with pytest.raises(TypeError):
        ml.extend(nn.ReLU())
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(md) == ["a", "b"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"]
    assert md.pop("b").__class__ is nn.ReLU and "b" not in md
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([fg.zeros(2), nn.Parameter(fg.ones(3))])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"w": fg.zeros(2, 2)})
    assert isinstance(pd["w"], nn.Parameter) and list(pd.state_dict()) == ["w"]
    assert repr(pl) == ("ParameterList(\n  (0): Parameter containing: [ferrograd.float32 of size 2]\n"
                        "  (1): Parameter containing: [ferrograd.float32 of size 3]\n)")


# ---- repr ----------------------------------------------------------------------------------


def test_reprs_match_pytorch_format():
    assert repr(nn.Linear(3, 4, bias=False)) == "Linear(in_features=3, out_features=4, bias=False)"
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.Conv2d(3, 8, 3, padding=1)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv1d(4, 4, 3, padding="same", groups=2, bias=False, padding_mode="reflect")) == (
        "Conv1d(4, 4, kernel_size=(3,), stride=(1,), padding=same, groups=2, bias=False, padding_mode=reflect)")
    assert repr(nn.BatchNorm2d(8)) == (
        "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)")
    assert repr(nn.LayerNorm(16)) == "LayerNorm((16,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1, inplace=False)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    seq = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout()))
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.5, inplace=False)\n"
        "  )\n"
        ")")
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    assert repr(ml) == ("ModuleList(\n  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
                        "  (2): ReLU()\n)")


def test_reprs_equal_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (nn.Conv2d(3, 8, (3, 5), stride=2, dilation=(1, 2)), torch.nn.Conv2d(3, 8, (3, 5), stride=2, dilation=(1, 2))),
        (nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1), torch.nn.ConvTranspose2d(4, 2, 3, stride=2,
                                                                                           output_padding=1)),
        (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
        (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)),
        (nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1))),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (nn.LeakyReLU(0.2, True), torch.nn.LeakyReLU(0.2, True)),
        (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))),
        (nn.Softplus(2.0), torch.nn.Softplus(2.0)),
        (nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)),
        (nn.TransformerEncoderLayer(8, 2, 16), torch.nn.TransformerEncoderLayer(8, 2, 16)),
        (nn.RMSNorm(4), torch.nn.RMSNorm(4)),
        (nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3)),
        (nn.InstanceNorm1d(3, affine=True), torch.nn.InstanceNorm1d(3, affine=True)),
        (nn.BatchNorm1d(3, affine=False), torch.nn.BatchNorm1d(3, affine=False)),
        (nn.BatchNorm3d(3, bias=False), torch.nn.BatchNorm3d(3, bias=False)),
        (nn.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
        (nn.Embedding(5, 2, max_norm=1.0), torch.nn.Embedding(5, 2, max_norm=1.0)),
        (nn.Upsample(size=(4, 4), mode="bilinear"), torch.nn.Upsample(size=(4, 4), mode="bilinear")),
        (nn.Dropout2d(0.2), torch.nn.Dropout2d(0.2)),
        (nn.ELU(0.5), torch.nn.ELU(0.5)),
        (nn.Hardtanh(-2.0, 2.0), torch.nn.Hardtanh(-2.0, 2.0)),
        (nn.PReLU(3), torch.nn.PReLU(3)),
        (nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1)),
        (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2)),
        (nn.ConvTranspose1d(2, 4, 3, groups=2, bias=False), torch.nn.ConvTranspose1d(2, 4, 3, groups=2, bias=False)),
        (nn.Conv3d(1, 2, 3, padding="valid"), torch.nn.Conv3d(1, 2, 3, padding="valid")),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]), torch.nn.ModuleList([torch.nn.Linear(2, 2)
                                                                                  for _ in range(3)])),
        (nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
         torch.nn.TransformerDecoderLayer(8, 2, 16, norm_first=True)),
        (nn.Bilinear(2, 3, 4), torch.nn.Bilinear(2, 3, 4)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# ---- init ----------------------------------------------------------------------------------


def test_calculate_gain_and_fans():
    assert nn.init.calculate_gain("relu") == math.sqrt(2.0)
    assert nn.init.calculate_gain("tanh") == 5.0 / 3
    assert nn.init.calculate_gain("conv2d") == 1.0
    assert nn.init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError):
        nn.init.calculate_gain("leaky_relu", True)
    assert nn.init._calculate_fan_in_and_fan_out(fg.zeros(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError):
        nn.init._calculate_fan_in_and_fan_out(fg.zeros(5))


def _stats(t):
    a = arr(t).astype(np.float64)
    return a.min(), a.max(), a.mean(), a.std()


def test_init_distributions_bounds_and_moments():
    w = fg.zeros(400, 500)
    assert nn.init.uniform_(w, -2.0, 3.0) is w
    lo, hi, mean, _ = _stats(w)
    assert -2.0 <= lo and hi < 3.0 and abs(mean - 0.5) < 0.02
    nn.init.normal_(w, 1.0, 2.0)
    _, _, mean, std = _stats(w)
    assert abs(mean - 1.0) < 0.02 and abs(std - 2.0) < 0.02
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    bound = 1 / math.sqrt(500)  # gain sqrt(2/6) * sqrt(3/fan_in)
    lo, hi, _, std = _stats(w)
    assert -bound <= lo and hi <= bound and abs(std - bound / math.sqrt(3)) < 1e-3 * 5
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(_stats(w)[3] - math.sqrt(2.0 / 400)) < 1e-3
    nn.init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / 900)
    lo, hi, _, _ = _stats(w)
    assert -bound <= lo and hi <= bound and hi > 0.99 * bound
    nn.init.xavier_normal_(w)
    assert abs(_stats(w)[3] - math.sqrt(2.0 / 900)) < 1e-3
    nn.init.trunc_normal_(w, mean=0.5, std=1.0, a=0.0, b=1.0)
    lo, hi, mean, _ = _stats(w)
    # N(0.5, 1) cut to [0, 1] is symmetric about 0.5.
    assert 0.0 <= lo and hi <= 1.0 and abs(mean - 0.5) < 0.01
    nn.init.constant_(w, 0.25)
    assert set(np.unique(arr(w))) == {0.25}
    nn.init.ones_(w)
    nn.init.zeros_(w)
    assert not arr(w).any()
    e = nn.init.eye_(fg.zeros(2, 3))
    np.testing.assert_array_equal(arr(e), np.eye(2, 3))


def test_init_generator_makes_fills_reproducible_and_records_no_history():
    a, b = nn.Parameter(fg.zeros(4, 4)), nn.Parameter(fg.zeros(4, 4))
    nn.init.kaiming_uniform_(a, generator=_seeded(5))
    nn.init.kaiming_uniform_(b, generator=_seeded(5))
    np.testing.assert_array_equal(arr(a), arr(b))
    assert a.is_leaf and a.grad_fn is None and a.requires_grad


def _seeded(seed):
    g = fg.Generator()
    g.manual_seed(seed)
    return g


def test_default_layer_init_matches_pytorch_bounds():
    fg.manual_seed(0)
    lin = nn.Linear(50, 300)
    bound = 1 / math.sqrt(50)
    for p in (lin.weight, lin.bias):
        lo, hi, _, _ = _stats(p)
        assert -bound <= lo and hi <= bound and hi > 0.9 * bound
    conv = nn.Conv2d(4, 64, 3)
    bound = 1 / math.sqrt(4 * 9)
    for p in (conv.weight, conv.bias):
        lo, hi, _, _ = _stats(p)
        assert -bound <= lo and hi <= bound and hi > 0.8 * bound
    convt = nn.ConvTranspose2d(64, 4, 3)  # fan_in from weight dim 1 (out/groups) * k
    bound = 1 / math.sqrt(4 * 9)
    lo, hi, _, _ = _stats(convt.weight)
    assert -bound <= lo and hi <= bound and hi > 0.9 * bound
    emb = nn.Embedding(1000, 50, padding_idx=3)
    _, _, mean, std = _stats(emb.weight)
    assert abs(mean) < 0.01 and abs(std - 1.0) < 0.01
    assert not arr(emb.weight)[3].any()
    bn, ln = nn.BatchNorm1d(5), nn.LayerNorm(5)
    for m in (bn, ln):
        np.testing.assert_array_equal(arr(m.weight), np.ones(5))
        np.testing.assert_array_equal(arr(m.bias), np.zeros(5))
    np.testing.assert_array_equal(arr(bn.running_var), np.ones(5))
    assert int(bn.num_batches_tracked.item()) == 0 and bn.num_batches_tracked.dtype == fg.int64
    mha = nn.MultiheadAttention(16, 4)
    bound = math.sqrt(6.0 / (16 + 48))
    lo, hi, _, _ = _stats(mha.in_proj_weight)
    assert -bound <= lo and hi <= bound
    assert not arr(mha.in_proj_bias).any() and not arr(mha.out_proj.bias).any()


# ---- utils ---------------------------------------------------------------------------------


def _with_grads(values):
    params = []
    for v in values:
        p = nn.Parameter(fg.zeros(len(v), dtype=fg.float64))
        p.grad = fg.tensor(v, dtype=fg.float64)
        params.append(p)
    return params


def test_clip_grad_norm():
    grads = [[3.0, 0.0], [0.0, 4.0, 12.0]]
    params = _with_grads(grads)
    total = nn.utils.clip_grad_norm_(params, max_norm=6.5)
    assert float(total.item()) == pytest.approx(13.0, rel=1e-12)
    coef = 6.5 / (13.0 + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(arr(p.grad), np.array(g) * coef, rtol=1e-12)
    # Under the limit: untouched.
    params = _with_grads(grads)
    nn.utils.clip_grad_norm_(params, max_norm=100.0)
    np.testing.assert_allclose(arr(params[1].grad), grads[1], rtol=1e-15)
    # inf-norm and a single tensor argument.
    (p,) = _with_grads([[1.0, -8.0]])
    total = nn.utils.clip_grad_norm_(p, max_norm=2.0, norm_type=float("inf"))
    assert float(total.item()) == 8.0
    np.testing.assert_allclose(arr(p.grad), np.array([1.0, -8.0]) * 2.0 / (8.0 + 1e-6), rtol=1e-12)
    (p,) = _with_grads([[float("nan"), 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_vector_round_trip():
    params = _with_grads([[-3.0, 0.5], [2.0]])
    nn.utils.clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(arr(params[0].grad), [-1.0, 0.5])
    np.testing.assert_array_equal(arr(params[1].grad), [1.0])
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(arr(vec), np.concatenate([arr(lin.weight).ravel(), arr(lin.bias)]))
    nn.utils.vector_to_parameters(fg.arange(8, dtype=fg.float32), lin.parameters())
    np.testing.assert_array_equal(arr(lin.weight), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(arr(lin.bias), [6.0, 7.0])
