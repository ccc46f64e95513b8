"""Shared hypothesis strategies, helpers and settings for the ferrograd test suite."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import ferrograd as fg

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", deadline=None, max_examples=200)
settings.register_profile("quick", deadline=None, max_examples=15)
settings.load_profile("default")

# numpy-representable ferrograd dtypes (bfloat16 has no numpy counterpart).
NP_DTYPES = {
    "bool": np.bool_,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
}
ALL_DTYPE_NAMES = [*NP_DTYPES, "bfloat16"]


# ---- strategies ----------------------------------------------------------------------


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    """Array shapes, zero-size dims included unless min_side > 0."""
    return st.lists(
        st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims
    ).map(tuple)


def nonempty_shapes(min_dims=1, max_dims=4, max_side=5):
    return shapes(min_dims, max_dims, 1, max_side)


np_dtypes = st.sampled_from(list(NP_DTYPES.values()))


def arange_array(shape, dtype=np.int64):
    """Distinct values (so permutations and gathers are visible), in ``dtype``."""
    n = int(np.prod(shape, dtype=np.int64))
    a = np.arange(n)
    if dtype == np.bool_:
        a = a % 3 == 1
    else:
        a = (a % 100).astype(dtype) if np.dtype(dtype).itemsize == 1 else a.astype(dtype)
    return a.reshape(shape)


@st.composite
def arrays(draw, shape=None, dtype=None, min_dims=0, max_dims=4, min_side=0, max_side=5):
    """A C-contiguous numpy array with distinct-ish values."""
    if shape is None:
        shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    if dtype is None:
        dtype = np.int64
    return arange_array(shape, dtype)


@st.composite
def axis_for(draw, ndim):
    """A valid axis (negative allowed) for an ``ndim``-d array."""
    if ndim == 0:
        raise ValueError("no axis in a 0-d array")
    return draw(st.integers(-ndim, ndim - 1))


@st.composite
def slices_for(draw, n):
    """Any Python slice (negative steps, out-of-range bounds) for an axis of size ``n``."""
    bound = st.none() | st.integers(-n - 3, n + 3)
    step = st.none() | st.integers(-4, 4).filter(lambda s: s != 0)
    return slice(draw(bound), draw(bound), draw(step))


@st.composite
def basic_index(draw, shape):
    """A tuple of ints / slices / None / Ellipsis valid for ``shape``."""
    items = []
    dims = list(shape)
    used_ellipsis = False
    pos = 0
    while pos < len(dims):
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "ellipsis", "stop"]))
        n = dims[pos]
        if kind == "stop" and not used_ellipsis:  # after "...", items align with the end
            break
        if kind == "int" and n > 0:
            items.append(draw(st.integers(-n, n - 1)))
            pos += 1
        elif kind == "none" or kind == "stop":
            items.append(None)
        elif kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            items.append(Ellipsis)
            skip = draw(st.integers(0, len(dims) - pos))
            pos += skip
        else:
            items.append(draw(slices_for(n)))
            pos += 1
    if draw(st.booleans()):
        items.append(None)
    return tuple(items)


# ---- helpers -------------------------------------------------------------------------


def to_np(t) -> np.ndarray:
    """A numpy view of a tensor (bfloat16 goes through float32); a GPU tensor is read back
    first (``.cpu()``), so the same assertions serve both devices."""
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == fg.bfloat16:
        return np.asarray(t.float())
    return np.asarray(t)


def assert_equal(t, expected):
    """Same shape, dtype (when ``expected`` is an array) and values, exactly."""
    expected = np.asarray(expected)
    got = to_np(t)
    assert tuple(t.shape) == expected.shape, (t.shape, expected.shape)
    assert got.shape == expected.shape
    if t.dtype != fg.bfloat16:
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected)


def element_strides(a: np.ndarray) -> tuple:
    return tuple(s // a.itemsize for s in a.strides)


def assert_same_layout(t, a: np.ndarray):
    """``t`` views the same memory as the numpy view ``a``: same first-element address,
    and the same element strides on every dim that has more than one element (numpy and
    PyTorch legitimately disagree on the stride of size-1 dims and of empty arrays)."""
    assert tuple(t.shape) == a.shape
    if a.size == 0:
        return
    if t.device.type == "cpu":  # a GPU view has no host address: its strides must agree
        assert t.data_ptr() == a.__array_interface__["data"][0]
    for n, ts, ns in zip(a.shape, t.strides, element_strides(a)):
        if n > 1:
            assert ts == ns, (t.strides, element_strides(a), a.shape)


@pytest.fixture
def restore_default_dtype():
    before = fg.get_default_dtype()
    yield
    fg.set_default_dtype(before)


def run_isolated(code: str, timeout: float = 60):
    """Runs ``code`` in a fresh interpreter, so a crash (segfault, abort) in ferrograd fails
    one test instead of killing the whole session. Returns the completed process."""
    import subprocess
    import sys
    import textwrap

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def assert_runs_cleanly(code: str, timeout: float = 60):
    proc = run_isolated(code, timeout)
    assert proc.returncode == 0, (
        f"exit status {proc.returncode} (negative = killed by a signal)\n{proc.stderr[-2000:]}"
    )
    return proc.stdout


def _gpu_or_skip() -> str:
    """"gpu" when an adapter is visible; otherwise the test skips, or fails under
    FERROGRAD_REQUIRE_GPU=1 (CI), where a missing adapter is a broken install."""
    import os

    if fg.gpu.is_available():
        return "gpu"
    if os.environ.get("FERROGRAD_REQUIRE_GPU") == "1":
        pytest.fail("FERROGRAD_REQUIRE_GPU=1 but no GPU adapter is visible")
    pytest.skip("no GPU adapter visible (install mesa-vulkan-drivers for lavapipe)")


@pytest.fixture
def gpu_device() -> str:
    return _gpu_or_skip()


@pytest.fixture
def f16_gpu(gpu_device) -> str:
    """"gpu" when its adapter opened with shader-f16 (float16 tensors may live there);
    skips otherwise, saying why (lavapipe and the big vendors' drivers have it)."""
    try:
        fg.zeros(1, dtype=fg.float16).to(gpu_device)
    except TypeError as e:
        if "shader-f16" not in str(e):
            raise
        pytest.skip(f"the adapter lacks shader-f16: {e}")
    return gpu_device


def f16_ordered(a: np.ndarray) -> np.ndarray:
    """float16 bit patterns mapped onto integers in value order (for ulp distances)."""
    u = np.ascontiguousarray(a, np.float16).view(np.uint16).astype(np.int32)
    return np.where(u & 0x8000, -(u & 0x7FFF), u)


def assert_f16_close(got: np.ndarray, want: np.ndarray, ulps: int = 1, atol: float = 0.0):
    """float16 arrays equal in shape and NaNs, each element within `ulps` float16 ulps of
    `want` or within `atol` of it (for sums that cancel: float32 error in a result near
    zero spans many of its tiny ulps)."""
    assert got.dtype == np.float16 and want.dtype == np.float16, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    diff = np.abs(f16_ordered(got) - f16_ordered(want))
    near = np.abs(got.astype(np.float64) - want.astype(np.float64)) <= atol
    bad = ~nan & (diff > ulps) & ~near
    assert not bad.any(), (
        f"{bad.sum()} elements over {ulps} ulp / atol {atol}; first at {np.argmax(bad.ravel())}: "
        f"got {got.ravel()[np.argmax(bad.ravel())]}, want {want.ravel()[np.argmax(bad.ravel())]}"
    )


@pytest.fixture(scope="session", params=["cpu", "gpu"])
def device(request) -> str:
    """Runs a test once per device: the CPU, and the GPU when an adapter exists. A plain
    string, so session-scoped (which also lets hypothesis tests take it).
    ``parametrize("device,...", device_params(...), indirect=["device"])`` picks the pairs."""
    return "cpu" if request.param == "cpu" else _gpu_or_skip()


# ---- devices and the dtypes they hold ------------------------------------------------------

DEVICES = ("cpu", "gpu")
#: what GPU storage holds (rust/gpu/dtypes.rs); anything else raises TypeError on .to("gpu")
GPU_DTYPES = ("float32", "int32", "uint32", "bool")
#: GPU float32 maths is within a few ulp of the correctly rounded result (WGSL builtins)
GPU_RTOL, GPU_ATOL = 2e-5, 1e-6
#: hypothesis examples per test on the GPU (lavapipe is a CPU-emulated Vulkan driver);
#: ``@pytest.mark.gpu_examples(n)`` sets another count for one test
GPU_MAX_EXAMPLES = 15


@functools.cache
def gpu_flushes_subnormals() -> bool:
    """Whether the GPU adapter's float32 arithmetic flushes subnormal operands and results
    to zero (NVIDIA's Vulkan driver does; WGSL allows it; lavapipe does not). The README
    states what stays exact there: copies, comparisons, maximum/minimum, sign-bit ops."""
    t = fg.tensor(np.array([1e-40], np.float32), device="gpu")
    return float((t + t).cpu().numpy()[0]) == 0.0


def flush_subnormals(a: np.ndarray) -> np.ndarray:
    """``a`` with float32 subnormals replaced by zeros of the same sign."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a
    tiny = np.finfo(np.float32).tiny
    with np.errstate(invalid="ignore"):
        sub = (np.abs(a.astype(np.float64)) < tiny) & (a != 0)
    return np.where(sub, np.copysign(np.zeros((), a.dtype), a), a).astype(a.dtype)


def dtype_name(dtype) -> str:
    """"float32" for "float32", np.float32, np.dtype("float32") and fg.float32."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, fg.dtype):
        return str(dtype).removeprefix("ferrograd.")
    return np.dtype(dtype).name


def holds(device: str, dtype) -> bool:
    return device == "cpu" or dtype_name(dtype) in GPU_DTYPES


def dtypes_on(device: str, dtypes) -> list:
    """The members of ``dtypes`` that ``device`` holds (in the same spelling)."""
    return [d for d in dtypes if holds(device, d)]


def device_params(*columns, devices=DEVICES):
    """pytest params (device, dtype, more...) for ``parametrize("device,dtype,...", ...,
    indirect=["device"])``: every row on the CPU, and on the GPU the rows whose dtype the
    GPU holds. With one column of dtypes, rows are (device, dtype); with several, the first
    column is the dtype and rows are their product as given (a list of tuples)."""
    rows = columns[0] if len(columns) == 1 else list(zip(*columns))
    out = []
    for dev in devices:
        for row in rows:
            row = row if isinstance(row, tuple) else (row,)
            if holds(dev, row[0]):
                out.append(pytest.param(dev, *row, id="-".join([dev, *map(_param_id, row)])))
    return out


def _param_id(v) -> str:
    return dtype_name(v) if not isinstance(v, (int, float, bool, tuple)) or isinstance(v, bool) \
        else str(v)


def on(device: str, a, dtype=None) -> fg.Tensor:
    """numpy values (or anything fg.tensor takes) as a tensor on ``device``."""
    t = fg.tensor(np.asarray(a) if isinstance(a, np.ndarray) else a, dtype=dtype)
    return t if device == "cpu" else t.to(device)


def host(t) -> np.ndarray:
    """A tensor's values in a fresh numpy array, whatever its device."""
    return t.detach().cpu().numpy().copy() if t.dtype != fg.bfloat16 else to_np(t).copy()


def index_dtype(device: str):
    """numpy dtype of index results (argmax, nonzero, arange, integer sums): int64 on the
    CPU, int32 on the GPU (which has no 64-bit integers)."""
    return np.int64 if device == "cpu" else np.int32


def int_result(device: str, expected):
    """An expected int64 (or uint64) result as the device produces it: 32-bit on the GPU."""
    expected = np.asarray(expected)
    if device != "cpu" and expected.dtype == np.int64:
        return expected.astype(np.int32)
    if device != "cpu" and expected.dtype == np.uint64:
        return expected.astype(np.uint32)
    return expected


def assert_close_on(device, t, expected, rtol=0.0, atol=0.0, **kw):
    """``t`` against numpy: with the given tolerances on the CPU (exact by default), and at
    least the GPU's float32 tolerances for GPU float results."""
    got = to_np(t)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if device != "cpu" and got.dtype.kind == "f":
        rtol, atol = max(rtol, GPU_RTOL), max(atol, GPU_ATOL)
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(got, expected, **kw)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, **kw)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "gpu_examples(n): hypothesis max_examples for the test's gpu parameter")


@pytest.fixture(autouse=True)
def _fewer_hypothesis_examples_on_gpu(request):
    """The GPU parameter of a hypothesis test runs GPU_MAX_EXAMPLES examples (or the
    test's gpu_examples marker): each launch goes through a software driver in CI. The
    settings object hypothesis reads when the test is called is swapped for that call."""
    fn = request.function
    callspec = getattr(request.node, "callspec", None)
    if (callspec is None or callspec.params.get("device") != "gpu"
            or not hasattr(fn, "_hypothesis_internal_use_settings")):
        yield
        return
    marker = request.node.get_closest_marker("gpu_examples")
    n = marker.args[0] if marker else GPU_MAX_EXAMPLES
    before = fn._hypothesis_internal_use_settings
    fn._hypothesis_internal_use_settings = settings(before, max_examples=min(n, before.max_examples))
    try:
        yield
    finally:
        fn._hypothesis_internal_use_settings = before


# ---- helpers of the GPU test modules (tests/test_gpu*.py) ------------------------------


def require_gpu_module() -> None:
    """Called at the top of a GPU-only module: skips it without an adapter, unless
    FERROGRAD_REQUIRE_GPU=1 (CI), where a missing adapter is a broken install."""
    import os

    if fg.gpu.is_available():
        return
    if os.environ.get("FERROGRAD_REQUIRE_GPU") == "1":
        raise RuntimeError(
            "FERROGRAD_REQUIRE_GPU=1 but no GPU adapter is visible: install Mesa's lavapipe "
            "(mesa-vulkan-drivers libvulkan1) or a GPU driver"
        )
    pytest.skip("no GPU adapter visible (install mesa-vulkan-drivers for lavapipe)", allow_module_level=True)


def gpu(a: np.ndarray) -> fg.Tensor:
    """A GPU copy of the numpy array ``a``."""
    return fg.from_numpy(np.ascontiguousarray(a)).to("gpu")


def gpu_host(t: fg.Tensor) -> np.ndarray:
    """The values of the GPU tensor ``t`` (asserting it is one) as numpy."""
    assert t.device.type == "gpu", t.device
    return t.cpu().numpy()


def gpu_views(a: np.ndarray, step: int = 3):
    """(name, numpy view, same view of a GPU copy): contiguous, transposed, stepped, flipped."""
    g = gpu(a)
    yield "contiguous", a, g
    yield "transposed", a.T, g.T
    yield "stepped", a[::2, 1::step], g[::2, 1::step]
    yield "flipped", a[::-1], g.flip((0,))
