"""Portable WGSL: every kernel text the backend builds (each file in shaders/ with each of
its substitutions applied, as listed by the extension) must compile as a compute
pipeline under two independent WebGPU implementations, wgpu-py (naga) and wgpudawn
(Dawn's Tint), and a few kernels run there against numpy, independent of the Rust
dispatch code. A shader that only one compiler accepts is a bug.

Each runtime is skipped when its package is not installed or sees no adapter, unless
FERROGRAD_REQUIRE_GPU=1 (CI), which turns that into a failure. The float16 variants
(texts that start with `enable f16;`) need a device opened with shader-f16: each runtime
requests it when its adapter offers it, and otherwise skips those variants only, saying so.
"""

from __future__ import annotations

import importlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from ferrograd import _core

SHADERS = Path(__file__).resolve().parents[1] / "shaders"
REQUIRED = os.environ.get("FERROGRAD_REQUIRE_GPU") == "1"
RUNTIMES = ["wgpu", "wgpudawn"]
F16 = "shader-f16"


def _device(name: str):
    try:
        mod = importlib.import_module(name)
        adapter = mod.gpu.request_adapter_sync(power_preference="high-performance")
        features = [F16] if F16 in adapter.features else []
        return mod, adapter.request_device_sync(required_features=features)
    except Exception as e:  # noqa: BLE001  (import error, no adapter, driver refusal)
        if REQUIRED:
            raise
        pytest.skip(f"{name} unavailable: {type(e).__name__}: {e}")


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request):
    return _device(request.param)


VARIANTS = _core._gpu_shader_variants()


def test_every_shader_file_is_used():
    files = {p.name for p in SHADERS.glob("*.wgsl")}
    prelude = {"common.wgsl", "trig.wgsl"}  # prepended to every kernel text
    assert prelude <= files
    labels = " ".join(label for label, _, _ in VARIANTS)
    for family in files - prelude:
        assert family.removesuffix(".wgsl") in labels, f"{family} has no variant"


def _needs_f16(source: str) -> bool:
    return source.startswith("enable f16;")


def test_float16_variants_are_listed():
    labels = [label for label, source, _ in VARIANTS if _needs_f16(source)]
    for family in ["copy", "fill", "unary", "binary", "select", "reduce"]:
        assert any(label.startswith(family) for label in labels), f"no float16 {family} variant"
    assert all("float16" in label for label in labels)


def test_every_variant_compiles(runtime):
    mod, device = runtime
    f16 = F16 in device.features
    if not f16:
        print(f"{mod.__name__}: the adapter lacks {F16}; skipping the float16 variants only")
    failures = []
    compiled = 0
    for label, source, entry_points in VARIANTS:
        if _needs_f16(source) and not f16:
            continue
        compiled += 1
        try:
            module = device.create_shader_module(code=source)
            for ep in entry_points:
                device.create_compute_pipeline(layout="auto", compute={"module": module, "entry_point": ep})
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: {str(e)[:400]}")
    assert not failures, f"{len(failures)} of {compiled} variants failed:\n" + "\n".join(failures[:5])


def _source(label: str) -> str:
    return next(src for lab, src, _ in VARIANTS if lab == label)


def _run(runtime, label: str, entry: str, md: list[int], out_words: int, inputs: list[np.ndarray], groups: int):
    """Runs one kernel: binding 0 = metadata, 1 = output, 2.. = inputs; returns the output bytes."""
    mod, device = runtime
    usage = mod.BufferUsage
    module = device.create_shader_module(code=_source(label))
    pipeline = device.create_compute_pipeline(layout="auto", compute={"module": module, "entry_point": entry})
    meta = device.create_buffer_with_data(data=struct.pack(f"<{len(md)}I", *md), usage=usage.STORAGE)
    out = device.create_buffer(size=4 * max(out_words, 1), usage=usage.STORAGE | usage.COPY_SRC)
    ins = [device.create_buffer_with_data(data=a.tobytes(), usage=usage.STORAGE) for a in inputs]
    entries = [{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}}
               for i, b in enumerate([meta, out, *ins])]
    bind = device.create_bind_group(layout=pipeline.get_bind_group_layout(0), entries=entries)
    enc = device.create_command_encoder()
    cpass = enc.begin_compute_pass()
    cpass.set_pipeline(pipeline)
    cpass.set_bind_group(0, bind)
    cpass.dispatch_workgroups(groups, 1, 1)
    cpass.end()
    device.queue.submit([enc.finish()])
    return bytes(device.queue.read_buffer(out))


def test_binary_add_broadcasts_through_strides(runtime):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.array([10, 20, 30], np.float32)  # broadcast down the rows: stride (1, 0)
    # md: [n, ndim, out_off, a_off, b_off, shape.., out_strides.., a_strides.., b_strides..]
    md = [12, 2, 0, 0, 0, 3, 4, 4, 1, 4, 1, 1, 0]
    got = np.frombuffer(_run(runtime, "binary add float32", "main", md, 12, [a, b], 1), np.float32)
    np.testing.assert_array_equal(got.reshape(3, 4), a + b[:, None])


def test_unary_exp_dense_and_copy_transposed(runtime):
    x = np.linspace(-3, 3, 300).astype(np.float32)
    got = np.frombuffer(_run(runtime, "unary exp float32", "main", [300, 0, 0, 0], 300, [x], 2), np.float32)
    np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=2e-5)
    m = np.arange(6, dtype=np.int32).reshape(2, 3)
    # dst[i, j] = float(m.T[i, j]): shape (3, 2), dst strides (2, 1), src strides (1, 3).
    md = [6, 2, 0, 0, 3, 2, 2, 1, 1, 3]
    got = np.frombuffer(_run(runtime, "copy int32->float32", "main", md, 6, [m], 1), np.float32)
    np.testing.assert_array_equal(got.reshape(3, 2), m.T.astype(np.float32))


def test_reduce_sum_rows_in_workgroup_memory(runtime):
    x = np.arange(2 * 1000, dtype=np.float32).reshape(2, 1000) % 17
    # md: [rows, row_len, chunks, chunk_len, nk, nr, offset, kept shape/strides, red shape/strides]
    md = [2, 1000, 1, 1000, 1, 1, 0, 2, 1000, 1000, 1]
    got = np.frombuffer(_run(runtime, "reduce Sum float32", "main", md, 2, [x], 2), np.float32)
    np.testing.assert_array_equal(got, x.sum(axis=1))


def test_float16_add_and_widening_copy(runtime):
    mod, device = runtime
    if F16 not in device.features:
        pytest.skip(f"{mod.__name__}: the adapter lacks {F16}")
    a = np.linspace(-4, 4, 64).astype(np.float16)
    b = (np.arange(64) / 7).astype(np.float16)
    # Computed in f32, rounded once to f16 (as the CPU and numpy do for float16).
    got = np.frombuffer(_run(runtime, "binary add float16", "main", [64, 0, 0, 0, 0], 32, [a, b], 1), np.float16)
    np.testing.assert_array_equal(got, (a.astype(np.float32) + b.astype(np.float32)).astype(np.float16))
    got = np.frombuffer(_run(runtime, "copy float16->float32", "main", [64, 0, 0, 0], 64, [a], 1), np.float32)
    np.testing.assert_array_equal(got, a.astype(np.float32))


# The exact rounding step of division and sqrt (common.wgsl `div_fix`, `sqrt_fix`) fed
# candidates up to 3 ulp off on either side, as drivers with approximate division and sqrt
# give them (on lavapipe the builtins are already exact, so the step is tested here).
_FIX_KERNEL = """
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read> ys: array<f32>;
@group(0) @binding(4) var<storage, read> cand: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= md[0]) {
        return;
    }
    if (md[1] == 0u) {
        out[i] = div_fix(xs[i], ys[i], cand[i]);
    } else {
        out[i] = sqrt_fix(xs[i], cand[i]);
    }
}
"""


def _off_by_ulps(exact: np.ndarray, rng) -> np.ndarray:
    steps = rng.integers(-3, 4, exact.shape).astype(np.int64)
    bits = exact.view(np.int32).astype(np.int64) + np.where(exact < 0, -steps, steps)
    return bits.astype(np.int32).view(np.float32)


def _run_fix(runtime, mode: int, x, y, cand) -> np.ndarray:
    mod, device = runtime
    usage = mod.BufferUsage
    code = (SHADERS / "common.wgsl").read_text() + _FIX_KERNEL
    pipeline = device.create_compute_pipeline(
        layout="auto", compute={"module": device.create_shader_module(code=code), "entry_point": "main"})
    n = x.size
    bufs = [device.create_buffer_with_data(data=struct.pack("<2I", n, mode), usage=usage.STORAGE),
            device.create_buffer(size=4 * n, usage=usage.STORAGE | usage.COPY_SRC)]
    bufs += [device.create_buffer_with_data(data=a.tobytes(), usage=usage.STORAGE) for a in (x, y, cand)]
    entries = [{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}} for i, b in enumerate(bufs)]
    enc = device.create_command_encoder()
    cpass = enc.begin_compute_pass()
    cpass.set_pipeline(pipeline)
    cpass.set_bind_group(0, device.create_bind_group(layout=pipeline.get_bind_group_layout(0), entries=entries))
    cpass.dispatch_workgroups((n + 63) // 64, 1, 1)
    cpass.end()
    device.queue.submit([enc.finish()])
    return np.frombuffer(bytes(device.queue.read_buffer(bufs[1])), np.float32)


def test_division_and_sqrt_round_exactly_from_nearby_candidates(runtime):
    rng = np.random.default_rng(5)
    n = 4096
    # normal operands over the whole exponent range, and subnormal quotients and operands
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-37, 38, n)).astype(np.float32)
    y = (rng.standard_normal(n) * 10.0 ** rng.integers(-37, 38, n)).astype(np.float32)
    x[:64] = (rng.standard_normal(64) * 1e-41).astype(np.float32)
    y[64:128] = (rng.standard_normal(64) * 1e30).astype(np.float32)
    with np.errstate(all="ignore"):
        q = x / y
    mag = q.view(np.uint32) & 0x7FFFFFFF
    keep = (mag > 3) & (mag < 0x7F7FFFFC)  # candidates stay finite, nonzero, same sign
    x, y, q = x[keep], y[keep], q[keep]
    got = _run_fix(runtime, 0, x, y, _off_by_ulps(q, rng))
    np.testing.assert_array_equal(got, q)
    a = np.abs(x)
    r = np.sqrt(a)
    got = _run_fix(runtime, 1, a, a, _off_by_ulps(r, rng))
    np.testing.assert_array_equal(got, r)
