//! Namespace functions backed by Rust (`ferrograd._core._zeros`, ...). The public
//! signatures (PyTorch and Array API spellings) are in `python/ferrograd/_creation.py`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::convert::{dims_of, scalar_dtype, scalar_of, shape_of, to_tensor, Int};
use super::device::device_arg;
use super::dtype::{default_float, opt_dtype};
use super::errors::run;
use super::random::{with_generator, PyGenerator};
use super::tensor::PyTensor;
use crate::core::{DType, Scalar, Tensor};
use std::sync::Arc;

use crate::autograd::func::shape as ag;
use crate::ops::{copy, create, manip};

fn scalar_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Scalar> {
    if let Some(s) = scalar_of(obj)? {
        return Ok(s);
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        if t.get().t.numel() == 1 {
            return Ok(copy::item(&t.get().t)?);
        }
    }
    Err(PyValueError::new_err(format!("{what} must be a number, got {}", obj.get_type().name()?)))
}

/// A default dtype adjusted for `device`: int64 (an integer literal's default) is int32
/// on the GPU, which has no 64-bit integers; an explicit dtype= is never changed.
fn default_on(d: DType, device: crate::core::Device) -> DType {
    if device.is_gpu() && d == DType::I64 {
        DType::I32
    } else {
        d
    }
}

#[pyfunction]
#[pyo3(signature = (shape, fill_value, dtype=None, device=None))]
pub fn _full(
    py: Python<'_>,
    shape: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let dev = device_arg(device)?;
    let shape = shape_of(&dims_of(shape)?)?;
    let v = scalar_arg(fill_value, "fill_value")?;
    let d = opt_dtype(dtype)?.unwrap_or_else(|| default_on(scalar_dtype(v), dev));
    Ok(run(py, 0, move || create::full_on(&shape, v, d, dev))?.into())
}

#[pyfunction]
#[pyo3(signature = (start, stop, step, dtype=None, device=None))]
pub fn _arange(
    start: &Bound<'_, PyAny>,
    stop: &Bound<'_, PyAny>,
    step: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let dev = device_arg(device)?;
    let (a, b, s) = (scalar_arg(start, "start")?, scalar_arg(stop, "stop")?, scalar_arg(step, "step")?);
    let any_float = [a, b, s].iter().any(|x| matches!(x, Scalar::Float(_)));
    let d = opt_dtype(dtype)?.unwrap_or(default_on(if any_float { default_float() } else { DType::I64 }, dev));
    Ok(create::arange_on(a, b, s, d, dev)?.into())
}

#[pyfunction]
#[pyo3(signature = (start, stop, num, endpoint=true, dtype=None, device=None))]
pub fn _linspace(
    start: f64,
    stop: f64,
    num: Int,
    endpoint: bool,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let dev = device_arg(device)?;
    let num = usize::try_from(num.0)
        .map_err(|_| PyValueError::new_err(format!("linspace: num must be non-negative, got {}", num.0)))?;
    let d = opt_dtype(dtype)?.unwrap_or_else(default_float);
    let t = create::linspace(start, stop, num, endpoint, d)?;
    Ok(copy::to_device(&t, dev)?.into())
}

#[pyfunction]
#[pyo3(signature = (n, m=None, k=Int(0), dtype=None, device=None))]
pub fn _eye(
    n: Int,
    m: Option<Int>,
    k: Int,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let dev = device_arg(device)?;
    let shape = shape_of(&[n.0, m.unwrap_or(n).0])?;
    let d = opt_dtype(dtype)?.unwrap_or_else(default_float);
    let t = create::eye(shape[0], shape[1], k.0, d)?;
    Ok(copy::to_device(&t, dev)?.into())
}

/// `kind`: "uniform" (a=low, b=high), "normal" (a=mean, b=std) or "integers" (a=low, b=high).
#[pyfunction]
#[pyo3(signature = (kind, shape, a, b, dtype=None, device=None, generator=None))]
#[allow(clippy::too_many_arguments)]
pub fn _random(
    py: Python<'_>,
    kind: &str,
    shape: &Bound<'_, PyAny>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyGenerator>>,
) -> PyResult<PyTensor> {
    let dev = device_arg(device)?;
    let shape = shape_of(&dims_of(shape)?)?;
    let (a, b) = (scalar_arg(a, "low/mean")?, scalar_arg(b, "high/std")?);
    let (dist, default) = match kind {
        "uniform" => (create::Distribution::Uniform { low: a.to_f64(), high: b.to_f64() }, default_float()),
        "normal" => (create::Distribution::Normal { mean: a.to_f64(), std: b.to_f64() }, default_float()),
        "integers" => (create::Distribution::Integers { low: a.to_i64(), high: b.to_i64() }, DType::I64),
        _ => return Err(PyValueError::new_err(format!("unknown distribution {kind:?}"))),
    };
    let d = opt_dtype(dtype)?.unwrap_or(default_on(default, dev));
    let n: usize = shape.iter().product();
    let out = with_generator(generator, |g| {
        let mut local = g.clone();
        let r = run(py, n, move || create::random(&mut local, &shape, dist, d).map(|t| (t, local)));
        r.map(|(t, local)| {
            *g = local;
            t
        })
    })?;
    // The same Philox stream as on the CPU, so seeded draws match across devices.
    Ok(copy::to_device(&out, dev)?.into())
}

#[pyfunction]
pub fn from_numpy(a: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let np = a.py().import("numpy")?;
    if !a.is_instance(&np.getattr("ndarray")?)? {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "from_numpy expects a numpy.ndarray, got {}",
            a.get_type().name()?
        )));
    }
    Ok(super::interop::from_array_interface(a)?.into())
}

#[pyfunction]
pub fn from_dlpack(x: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    if !x.hasattr("__dlpack__")? {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "from_dlpack expects an object with __dlpack__, got {}",
            x.get_type().name()?
        )));
    }
    Ok(super::dlpack::import(x)?.into())
}

/// Tensor-like input as a tensor: shares memory when it can, converts `dtype` if given.
#[pyfunction]
#[pyo3(signature = (obj, dtype=None))]
pub fn _as_tensor(obj: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
    Ok(to_tensor(obj, opt_dtype(dtype)?)?.into())
}

fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|t| to_tensor(&t?, None)).collect()
}

#[pyfunction]
#[pyo3(signature = (tensors, axis=Int(0)))]
pub fn concat(py: Python<'_>, tensors: &Bound<'_, PyAny>, axis: Int) -> PyResult<PyTensor> {
    let ts = tensors_of(tensors)?;
    let n = ts.iter().map(|t| t.numel()).sum();
    Ok(run(py, n, move || ag::concat(&ts, axis.0))?.into())
}

#[pyfunction]
#[pyo3(signature = (tensors, axis=Int(0)))]
pub fn stack(py: Python<'_>, tensors: &Bound<'_, PyAny>, axis: Int) -> PyResult<PyTensor> {
    let ts = tensors_of(tensors)?;
    let n = ts.iter().map(|t| t.numel()).sum();
    Ok(run(py, n, move || ag::stack(&ts, axis.0))?.into())
}

#[pyfunction]
pub fn tile(py: Python<'_>, x: &Bound<'_, PyAny>, reps: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let reps = shape_of(&dims_of(reps)?)?;
    Ok(run(py, t.numel(), move || {
        ag::gather_op(&t, "TileBackward", Arc::new(move |x: &Tensor| manip::tile(x, &reps)))
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (x, repeats, axis=None))]
pub fn repeat(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    repeats: &Bound<'_, PyAny>,
    axis: Option<Int>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let reps = shape_of(&dims_of(repeats)?)?;
    let axis = axis.map(|a| a.0);
    Ok(run(py, t.numel(), move || {
        ag::gather_op(&t, "RepeatBackward", Arc::new(move |x: &Tensor| manip::repeat(x, &reps, axis)))
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (x, shift, axis=None))]
pub fn roll(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    shift: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let shifts = dims_of(shift)?;
    let axes = match axis {
        Some(a) if !a.is_none() => dims_of(a)?,
        _ => vec![],
    };
    let shifts = if shifts.len() == 1 && axes.len() > 1 { vec![shifts[0]; axes.len()] } else { shifts };
    Ok(run(py, t.numel(), move || {
        ag::gather_op(&t, "RollBackward", Arc::new(move |x: &Tensor| manip::roll(x, &shifts, &axes)))
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (x, k=Int(0)))]
pub fn tril(py: Python<'_>, x: &Bound<'_, PyAny>, k: Int) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    Ok(run(py, t.numel(), move || ag::triangle(&t, k.0, true))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, k=Int(0)))]
pub fn triu(py: Python<'_>, x: &Bound<'_, PyAny>, k: Int) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    Ok(run(py, t.numel(), move || ag::triangle(&t, k.0, false))?.into())
}

/// Per-dim index tensors of the non-zero elements (numpy's `nonzero`).
#[pyfunction]
pub fn nonzero<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let t = to_tensor(x, None)?;
    if t.ndim() == 0 {
        return Err(PyValueError::new_err("nonzero of a 0-d tensor is not defined; use atleast_1d first"));
    }
    let parts: Vec<PyTensor> = crate::ops::index::nonzero(&t)?.into_iter().map(PyTensor::from).collect();
    PyTuple::new(py, parts)
}

#[pyfunction]
#[pyo3(signature = (*shapes))]
pub fn broadcast_shapes<'py>(py: Python<'py>, shapes: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyTuple>> {
    let mut out: Vec<usize> = vec![];
    for s in shapes.iter() {
        let s = shape_of(&dims_of(&s)?)?;
        out = crate::core::broadcast_shapes(&out, &s)?.to_vec();
    }
    PyTuple::new(py, out)
}

/// The SIMD instruction set the CPU kernels dispatch to on this machine.
#[pyfunction]
pub fn simd_level() -> &'static str {
    crate::cpu::simd::level_name()
}

/// In-place `out.scatter_add_(dim, index, src)`.
#[pyfunction]
pub fn _scatter_add(
    py: Python<'_>,
    out: &Bound<'_, PyTensor>,
    dim: Int,
    index: &Bound<'_, PyAny>,
    src: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let o = out.get().t.clone();
    let (i, s) = (to_tensor(index, None)?, to_tensor(src, None)?);
    run(py, i.numel(), move || ag::scatter_add(&o, dim.0, &i, &s))
}
