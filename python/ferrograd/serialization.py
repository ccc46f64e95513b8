"""``ferrograd.save`` / ``ferrograd.load`` in the safetensors format, written with plain
Python and numpy.

A file is: 8 bytes (little-endian u64) giving the header's length, a JSON header padded
with spaces to a multiple of 8 bytes, then the tensors' bytes (C order, little-endian)
back to back. The header maps each tensor's name to ``{"dtype", "shape",
"data_offsets": [begin, end]}`` (offsets relative to the data section) and may hold a
``__metadata__`` map of strings.

Nested objects (a checkpoint with a model state_dict, an optimizer state_dict and an
epoch number) are flattened: each tensor is stored under its dotted path
(``model.fc1.weight``, ``optimizer.state.0.exp_avg``) and the rest of the structure (dicts
with their key types, lists, tuples, numbers, strings, None) is written as JSON in
``__metadata__["ferrograd.structure"]``. So a plain state_dict is a normal safetensors
file whose names are the state_dict's keys, and any safetensors file (PyTorch's
included) loads as a dict of tensors. Loading never runs code: no pickle.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

import numpy as np

from . import _core
from ._core import Tensor
from ._creation import tensor

STRUCTURE_KEY = "ferrograd.structure"
_MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit

# safetensors dtype code <-> ferrograd dtype; bfloat16 travels as its uint16 bit pattern.
_CODES = {
    "F64": _core.float64, "F32": _core.float32, "F16": _core.float16, "BF16": _core.bfloat16,
    "I64": _core.int64, "I32": _core.int32, "I16": _core.int16, "I8": _core.int8,
    "U64": _core.uint64, "U32": _core.uint32, "U16": _core.uint16, "U8": _core.uint8,
    "BOOL": _core.bool,
}
_CODE_OF = {dtype.name: code for code, dtype in _CODES.items()}
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
          "BOOL": "?"}


def save(obj, f, metadata: dict | None = None) -> None:
    """Writes ``obj`` (a tensor, or dicts/lists/tuples of tensors, numpy arrays, numbers,
    strings, bools and None) to the path or binary file ``f`` as safetensors.
    ``metadata``: extra string-to-string entries for the header's ``__metadata__``."""
    tensors: dict[str, Tensor] = {}
    structure = _Flattener(tensors).encode(obj, "")
    header_meta = {"format": "pt", STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"))}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("save: metadata must map strings to strings")
        header_meta[key] = value
    arrays = {name: _to_numpy(t) for name, t in tensors.items()}  # name -> (code, array)
    _write(f, arrays, header_meta)


def load(f, map_location=None, weights_only: bool = True):
    """Reads what ``save`` wrote (the same nesting, dict key types and tuples), or any
    safetensors file as a dict of tensors in file order. ``map_location`` and
    ``weights_only`` are accepted for PyTorch compatibility: loading is always
    weights-only (no code runs) and tensors land on the CPU."""
    del map_location, weights_only
    header, data = _read(f)
    metadata = header.pop("__metadata__", None) or {}
    tensors = {name: _tensor_from(name, entry, data) for name, entry in header.items()}
    if STRUCTURE_KEY not in metadata:
        return tensors
    try:
        structure = json.loads(metadata[STRUCTURE_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"load: corrupt {STRUCTURE_KEY} metadata: {e}") from None
    return _decode(structure, tensors)


def load_metadata(f) -> dict:
    """The header's ``__metadata__`` string map (without reading the tensors' data)."""
    header, _ = _read(f, header_only=True)
    return dict(header.get("__metadata__") or {})


# ---- flattening nested objects into named tensors plus a JSON skeleton


class _Flattener:
    def __init__(self, tensors: dict) -> None:
        self.tensors = tensors
        self.name_of: dict[int, str] = {}  # a tensor saved twice is stored once

    def encode(self, obj, path: str):
        if isinstance(obj, Tensor):
            return {"tensor": self._store(obj, path)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._store(tensor(obj), path)}
        if isinstance(obj, np.generic):
            obj = obj.item()
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, dict):
            return {"dict": [[_check_key(k), self.encode(v, _join(path, k))]
                             for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, _join(path, i)) for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else {"tuple": items}
        raise TypeError(f"save: cannot store a {type(obj).__name__} at '{path or '<root>'}' "
                        "(tensors, numpy arrays, numbers, strings, None and dicts, lists and "
                        "tuples of them can be saved)")

    def _store(self, t: Tensor, path: str) -> str:
        if id(t) in self.name_of:
            return self.name_of[id(t)]
        name = path or "tensor"
        suffix = 1
        while name in self.tensors:  # "a.b" as one key and as a nested path
            name = f"{path}#{suffix}"
            suffix += 1
        self.tensors[name] = t
        self.name_of[id(t)] = name
        return name


def _check_key(key):
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    raise TypeError(f"save: dict keys must be strings, numbers, bools or None, got "
                    f"{type(key).__name__}")


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _decode(node, tensors: dict):
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise ValueError(f"load: corrupt structure node {node!r}")
    (kind, value), = node.items()
    if kind == "dict":
        return {_hashable(k): _decode(v, tensors) for k, v in value}
    if kind == "tuple":
        return tuple(_decode(v, tensors) for v in value)
    if kind in ("tensor", "ndarray"):
        if value not in tensors:
            raise ValueError(f"load: the structure refers to a missing tensor {value!r}")
        return tensors[value] if kind == "tensor" else tensors[value].numpy()
    raise ValueError(f"load: unknown structure node {kind!r}")


def _hashable(key):
    if isinstance(key, list):
        raise ValueError("load: corrupt structure (a dict key is a list)")
    return key


# ---- tensors <-> bytes


def _to_numpy(t: Tensor) -> tuple[str, np.ndarray]:
    """The safetensors dtype code and a C-contiguous little-endian array of the bytes."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    code = _CODE_OF.get(t.dtype.name)
    if code is None:
        raise TypeError(f"save: dtype {t.dtype} has no safetensors code")
    if code == "BF16":  # numpy has no bfloat16: write its bit pattern
        t = t.contiguous().view(_core.uint16)
    return code, np.asarray(np.asarray(t), dtype=_NUMPY[code], order="C")


def _tensor_from(name: str, entry: dict, data: memoryview) -> Tensor:
    if not isinstance(entry, dict) or entry.get("dtype") not in _CODES:
        raise ValueError(f"load: tensor {name!r} has an unknown dtype "
                         f"{entry.get('dtype') if isinstance(entry, dict) else entry!r}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)):
        raise ValueError(f"load: tensor {name!r} has a malformed shape or data_offsets")
    begin, end = offsets
    np_dtype = np.dtype(_NUMPY[entry["dtype"]])
    count = int(np.prod(shape, dtype=np.int64))
    if not 0 <= begin <= end <= len(data) or end - begin != count * np_dtype.itemsize:
        raise ValueError(f"load: tensor {name!r} has data_offsets {offsets} that do not fit "
                         f"its shape {shape} and the {len(data)}-byte data section")
    array = np.frombuffer(data, dtype=np_dtype, count=count, offset=begin).reshape(shape)
    t = tensor(array.astype(np_dtype.newbyteorder("="), copy=True))
    return t.view(_core.bfloat16) if entry["dtype"] == "BF16" else t


# ---- the file layout


def _write(f, arrays: dict, metadata: dict) -> None:
    # Widest items first, so every tensor starts at a multiple of its item size.
    order = sorted(arrays, key=lambda name: (-arrays[name][1].itemsize, name))
    header: dict = {"__metadata__": metadata}
    offset = 0
    for name in order:
        code, a = arrays[name]
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with _open(f, "wb") as out:
        out.write(len(text).to_bytes(8, "little"))
        out.write(text)
        for name in order:
            out.write(arrays[name][1].reshape(-1).view(np.uint8).data)


def _read(f, header_only: bool = False):
    with _open(f, "rb") as src:
        prefix = src.read(8)
        if len(prefix) != 8:
            raise ValueError("load: not a safetensors file (shorter than 8 bytes)")
        size = int.from_bytes(prefix, "little")
        if size > _MAX_HEADER:
            raise ValueError(f"load: not a safetensors file (header length {size})")
        raw = src.read(size)
        if len(raw) != size:
            raise ValueError("load: truncated safetensors header")
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"load: corrupt safetensors header: {e}") from None
        if not isinstance(header, dict):
            raise ValueError("load: corrupt safetensors header (not a JSON object)")
        metadata = header.get("__metadata__")
        if metadata is not None and not (
                isinstance(metadata, dict)
                and all(isinstance(v, str) for v in metadata.values())):
            raise ValueError("load: __metadata__ must map strings to strings")
        data = memoryview(b"" if header_only else src.read())
    return header, data


class _open:
    """A path is opened and closed here; a file object is used as it is."""

    def __init__(self, f, mode: str) -> None:
        self.f, self.mode, self.owned = f, mode, None

    def __enter__(self) -> BinaryIO:
        if isinstance(self.f, (str, bytes, os.PathLike)):
            self.owned = open(self.f, self.mode)
            return self.owned
        return self.f

    def __exit__(self, *exc) -> None:
        if self.owned is not None:
            self.owned.close()
