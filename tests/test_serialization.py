"""ferrograd.save / ferrograd.load: the safetensors layout, nested checkpoints, and files
exchanged with the safetensors package (numpy and PyTorch flavours)."""

from __future__ import annotations

import copy
import io
import json
import math
import pickle

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import optim
from ferrograd.serialization import load_metadata

NUMPY_DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint64",
                "uint32", "uint16", "uint8", "bool"]
CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
         "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint64": "U64",
         "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL"}


def sample(dtype_name: str, shape=(2, 3)) -> np.ndarray:
    n = int(np.prod(shape))
    if dtype_name == "bool":
        return (np.arange(n) % 3 == 0).reshape(shape)
    a = np.arange(n).reshape(shape) * 7 - 5
    if dtype_name.startswith("uint"):
        a = np.abs(a)
    return a.astype(dtype_name) / (4 if dtype_name.startswith("float") else 1)


def state_dict() -> dict:
    sd = {name: fg.tensor(sample(name)) for name in NUMPY_DTYPES}
    sd["bf16"] = fg.tensor([1.5, -2.25, 3.0e38, 0.0], dtype=fg.bfloat16)
    sd["scalar"] = fg.tensor(2.5, dtype=fg.float64)
    sd["empty"] = fg.zeros(0, 4)
    sd["strided"] = fg.tensor(sample("float32", (4, 5))).T[::2]  # a non-contiguous view
    return sd


def assert_same(a: fg.Tensor, b: fg.Tensor) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == fg.bfloat16:
        a, b = a.float(), b.float()
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def roundtrip(obj, **kw):
    buf = io.BytesIO()
    fg.save(obj, buf, **kw)
    buf.seek(0)
    return fg.load(buf)


def test_state_dict_round_trip_keeps_dtypes_values_and_order(tmp_path):
    sd = state_dict()
    path = tmp_path / "model.safetensors"
    fg.save(sd, path)
    back = fg.load(path)
    assert list(back) == list(sd)
    for key, value in sd.items():
        assert_same(back[key], value)
    assert back["scalar"].shape == () and back["empty"].shape == (0, 4)


def test_file_layout_follows_the_safetensors_spec(tmp_path):
    sd = state_dict()
    path = tmp_path / "m.safetensors"
    fg.save(sd, str(path))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0
    text = raw[8:8 + n].decode("utf-8")
    assert text == text.rstrip() + " " * (len(text) - len(text.rstrip()))  # space padding
    header = json.loads(text)
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in meta.values())
    assert set(header) == set(sd)
    spans = sorted(tuple(entry["data_offsets"]) for entry in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # back to back, no holes
    for key, entry in header.items():
        t = sd[key]
        assert entry["dtype"] == CODES[t.dtype.name] and entry["shape"] == list(t.shape)
        begin, end = entry["data_offsets"]
        itemsize = 2 if t.dtype == fg.bfloat16 else np.dtype(t.dtype.name).itemsize
        assert begin % itemsize == 0  # aligned to the item size
        want = (np.asarray(t.contiguous().view(fg.uint16)) if t.dtype == fg.bfloat16
                else np.asarray(t))
        assert data[begin:end] == np.ascontiguousarray(want).astype(
            want.dtype.newbyteorder("<")).tobytes()


def test_readable_by_safetensors_numpy_and_torch(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    sd = state_dict()
    plain = {k: v for k, v in sd.items() if k != "bf16"}  # numpy has no bfloat16
    fg.save(plain, tmp_path / "plain.safetensors")
    arrays = safetensors_numpy.load_file(str(tmp_path / "plain.safetensors"))
    assert set(arrays) == set(plain)
    for key, value in plain.items():
        assert arrays[key].dtype == np.dtype(value.dtype.name)
        np.testing.assert_array_equal(arrays[key], np.asarray(value))

    pytest.importorskip("torch")
    import safetensors.torch

    fg.save(sd, tmp_path / "all.safetensors")
    tensors = safetensors.torch.load_file(str(tmp_path / "all.safetensors"))
    assert set(tensors) == set(sd)
    for key, value in sd.items():
        assert str(tensors[key].dtype) == "torch." + value.dtype.name
        np.testing.assert_array_equal(tensors[key].float().numpy(), np.asarray(value.float()))


def test_loads_files_written_by_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {name: sample(name, (3, 2)) for name in NUMPY_DTYPES}
    safetensors_numpy.save_file(arrays, str(tmp_path / "np.safetensors"))
    back = fg.load(tmp_path / "np.safetensors")
    assert set(back) == set(arrays)
    for key, value in arrays.items():
        assert back[key].dtype.name == value.dtype.name
        np.testing.assert_array_equal(np.asarray(back[key]), value)

    torch = pytest.importorskip("torch")
    import safetensors.torch

    weights = {"conv.weight": torch.randn(4, 1, 3, 3), "conv.bias": torch.zeros(4),
               "half": torch.randn(5).to(torch.bfloat16), "count": torch.tensor(7),
               "mask": torch.tensor([True, False, True])}
    safetensors.torch.save_file(weights, str(tmp_path / "torch.safetensors"),
                                metadata={"format": "pt"})
    back = fg.load(tmp_path / "torch.safetensors")
    assert set(back) == set(weights)
    for key, value in weights.items():
        assert isinstance(back[key], fg.Tensor)
        assert back[key].dtype.name == str(value.dtype).removeprefix("torch.")
        assert back[key].shape == tuple(value.shape)
        np.testing.assert_array_equal(np.asarray(back[key].float()), value.float().numpy())


def trained_adam(steps=3):
    params = [fg.tensor(sample("float32", (2, 3)), requires_grad=True),
              fg.tensor([0.5, -0.5], requires_grad=True)]
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.01}],
                     lr=0.1, amsgrad=True)
    for step in range(steps):
        for p in params:
            p.grad = fg.sin(p.detach() * 3 + step)
        opt.step()
    return params, opt


def test_nested_checkpoint_round_trip_and_resume(tmp_path):
    params, opt = trained_adam()
    checkpoint = {
        "model": {"w": params[0], "b": params[1]},
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "config": {"lr": 0.1, "betas": (0.9, 0.999), "name": "digits", "flag": True,
                   "none": None, "huge": math.inf, "sizes": [8, [16, 32]], 7: "int key"},
        "history": np.array([1.0, 0.5, 0.25]),
    }
    path = tmp_path / "ckpt.safetensors"
    fg.save(checkpoint, path, metadata={"note": "three epochs"})
    back = fg.load(path)
    assert back["epoch"] == 3 and isinstance(back["epoch"], int)
    assert back["config"] == checkpoint["config"]
    assert isinstance(back["config"]["betas"], tuple)
    assert isinstance(back["history"], np.ndarray)
    np.testing.assert_array_equal(back["history"], checkpoint["history"])
    assert load_metadata(path)["note"] == "three epochs"
    saved_opt = back["optimizer"]
    assert sorted(saved_opt["state"]) == [0, 1]  # integer keys stay integers
    assert saved_opt["param_groups"][1]["params"] == [1]
    assert saved_opt["param_groups"][0]["betas"] == (0.9, 0.999)
    for index, buffers in opt.state_dict()["state"].items():
        assert set(saved_opt["state"][index]) == set(buffers)
        for key, value in buffers.items():
            assert_same(saved_opt["state"][index][key], value)
    for key, value in checkpoint["model"].items():
        assert_same(back["model"][key], value.detach())
        assert not back["model"][key].requires_grad
    # Tensor names in the file are the dotted paths, readable by any safetensors tool.
    header = json.loads(path.read_bytes()[8:8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert {"model.w", "model.b", "optimizer.state.0.exp_avg", "history"} <= set(header)

    # Resuming from the file continues exactly like the optimizer that kept running.
    reference = copy.deepcopy(opt)
    new_params = [back["model"]["w"].requires_grad_(True), back["model"]["b"].requires_grad_(True)]
    resumed = optim.Adam([{"params": new_params[:1]}, {"params": new_params[1:]}])
    resumed.load_state_dict(saved_opt)
    ref_params = [p for g in reference.param_groups for p in g["params"]]
    for step in range(3, 6):
        for p in ref_params + new_params:
            p.grad = fg.sin(p.detach() * 3 + step)
        reference.step()
        resumed.step()
    for a, b in zip(ref_params, new_params):
        np.testing.assert_array_equal(np.asarray(a.detach()), np.asarray(b.detach()))


def test_shared_tensors_and_colliding_names():
    t = fg.arange(3.0)
    back = roundtrip({"a": t, "b": [t, t]})
    assert back["a"] is back["b"][0] is back["b"][1]
    clash = roundtrip({"a.b": fg.ones(2), "a": {"b": fg.zeros(2)}, "single": fg.full((1,), 5.0)})
    assert clash["a.b"].tolist() == [1.0, 1.0] and clash["a"]["b"].tolist() == [0.0, 0.0]
    single = roundtrip(fg.tensor([[1, 2]], dtype=fg.int16))
    assert single.dtype == fg.int16 and single.tolist() == [[1, 2]]
    assert roundtrip([1, "two", None, (3.5,)]) == [1, "two", None, (3.5,)]


def test_save_rejects_objects_it_cannot_describe():
    with pytest.raises(TypeError, match="cannot store a object"):
        fg.save({"x": object()}, io.BytesIO())
    with pytest.raises(TypeError, match="dict keys"):
        fg.save({(1, 2): fg.ones(1)}, io.BytesIO())
    with pytest.raises(TypeError, match="metadata"):
        fg.save({"x": fg.ones(1)}, io.BytesIO(), metadata={"epoch": 3})


class _Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle code ran')",))


def test_load_never_runs_code_and_rejects_corrupt_files(tmp_path):
    pickled = tmp_path / "evil.pt"
    pickled.write_bytes(pickle.dumps({"x": _Boom()}))
    with pytest.raises(ValueError, match="not a safetensors file|corrupt"):
        fg.load(pickled)

    buf = io.BytesIO()
    fg.save({"w": fg.ones(4)}, buf)
    good = buf.getvalue()
    with pytest.raises(ValueError, match="do not fit"):
        fg.load(io.BytesIO(good[:-4]))  # truncated data
    with pytest.raises(ValueError):
        fg.load(io.BytesIO(good[:5]))
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8:8 + n])
    header["w"]["data_offsets"] = [0, 400]
    bad = json.dumps(header).encode()
    with pytest.raises(ValueError, match="do not fit"):
        fg.load(io.BytesIO(len(bad).to_bytes(8, "little") + bad + good[8 + n:]))
    header["w"].update(dtype="F128", data_offsets=[0, 16])
    bad = json.dumps(header).encode()
    with pytest.raises(ValueError, match="unknown dtype"):
        fg.load(io.BytesIO(len(bad).to_bytes(8, "little") + bad + good[8 + n:]))
