"""ferrograd: tensors with PyTorch's feel, numpy's reach and a readable Rust core."""

from __future__ import annotations

from . import (
    _core,
    _gather,
    _math,
    _methods,
    _reduce,  # noqa: F401  (adds the Python-implemented Tensor methods)
    autograd,
    data,
    gpu,
    linalg,
    nn,
    optim,
)
from ._conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from ._core import (
    Generator,
    Tensor,
    bfloat16,
    broadcast_shapes,
    concat,
    device,
    dtype,
    float16,
    float32,
    float64,
    from_dlpack,
    from_numpy,
    get_default_device,
    get_default_dtype,
    initial_seed,
    int8,
    int16,
    int32,
    int64,
    manual_seed,
    nonzero,
    repeat,
    roll,
    set_default_device,
    set_default_dtype,
    stack,
    synchronize,
    tile,
    tril,
    triu,
    uint8,
    uint16,
    uint32,
    uint64,
)
from ._core import bool as bool  # noqa: PLC0414  (shadows the builtin, as in PyTorch)
from ._creation import (
    arange,
    asarray,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from ._einsum import einsum
from ._image import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    pad,
)
from ._manip import (
    array_split,
    atleast_1d,
    broadcast_arrays,
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    clone,
    contiguous,
    diagonal,
    expand_dims,
    flatten,
    flip,
    meshgrid,
    moveaxis,
    narrow,
    permute,
    permute_dims,
    reshape,
    split,
    squeeze,
    swapaxes,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    unstack,
)
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .linalg import torch_norm as norm
from .serialization import load, save

globals().update(_math.FUNCTIONS)
globals().update(_reduce.FUNCTIONS)
globals().update(_gather.FUNCTIONS)
_gather.install_methods()
_math.install_methods()
_reduce.install_methods()

__version__ = "0.1.0"

# PyTorch's dtype aliases.
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
uint = uint32

_DTYPES = {d.name: d for d in (bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
                                 float16, bfloat16, float32, float64)}


def _dtype_from_name(name: str) -> dtype:
    return _DTYPES[name]


def numel(x: Tensor) -> int:
    return x.numel()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)
