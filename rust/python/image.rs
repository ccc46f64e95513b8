//! Image ops for Python: pooling, `pad`, `interpolate` and their backward primitives
//! (`_max_pool`, `_avg_pool_backward`, ...). The PyTorch-style signatures are in
//! `python/ferrograd/_image.py`; these accept what PyTorch's `_pair`/`_triple` accept.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::convert::{dims_of, index_int, scalar_of, shape_of, to_tensor, Int, Size};
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::image;
use crate::core::Scalar;
use crate::ops::interpolate::{self as interp, InterpMode};
use crate::ops::pad::{self as padding, PadMode};
use crate::ops::pool::{self, PoolSpec};

/// An int or a sequence of ints (a 1-sequence or an int repeats over the `k` dims).
fn per_axis(obj: Option<&Bound<'_, PyAny>>, default: i64, k: usize, what: &str) -> PyResult<Vec<i64>> {
    let v = match obj {
        None => return Ok(vec![default; k]),
        Some(o) if o.is_none() => return Ok(vec![default; k]),
        Some(o) => dims_of(o)?,
    };
    match v.len() {
        1 => Ok(vec![v[0]; k]),
        n if n == k => Ok(v),
        _ => Err(PyValueError::new_err(format!("{what} must be an int or {k} ints, got {v:?}"))),
    }
}

/// `spatial_dims`: how many trailing dims an op pools (1, 2 or 3).
fn spatial_arg(s: Size) -> PyResult<usize> {
    match s.0 {
        1..=3 => Ok(s.0),
        n => Err(PyValueError::new_err(format!("spatial_dims must be 1, 2 or 3, got {n}"))),
    }
}

/// `stride`: None or an empty sequence means "the kernel size".
fn stride_arg(obj: Option<&Bound<'_, PyAny>>, k: usize) -> PyResult<Vec<i64>> {
    match obj {
        None => Ok(Vec::new()),
        Some(o) if o.is_none() => Ok(Vec::new()),
        Some(o) if dims_of(o).map(|v| v.is_empty()).unwrap_or(false) => Ok(Vec::new()),
        Some(o) => per_axis(Some(o), 1, k, "stride"),
    }
}

/// The number of spatial dims: the kernel's length when it is a sequence, else
/// `spatial_dims`, else PyTorch's convention for the input's rank.
fn spatial_of(kernel: &Bound<'_, PyAny>, spatial_dims: Option<Size>, ndim: usize) -> PyResult<usize> {
    if let Some(k) = spatial_dims {
        return spatial_arg(k);
    }
    if kernel.is_instance_of::<PyTuple>() || kernel.is_instance_of::<PyList>() {
        if let Ok(v) = dims_of(kernel) {
            if v.len() > 1 {
                return Ok(v.len());
            }
        }
    }
    Ok(match ndim {
        0..=2 => 1,
        3 | 4 => 2,
        _ => 3,
    })
}

fn shape_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    shape_of(&dims_of(obj)?)
}

/// Pooling arguments from Python values for `k` spatial dims.
fn pool_spec(
    k: usize,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    ceil_mode: bool,
) -> PyResult<PoolSpec> {
    Ok(PoolSpec {
        kernel: per_axis(Some(kernel_size), 1, k, "kernel_size")?,
        stride: stride_arg(stride, k)?,
        padding: per_axis(padding, 0, k, "padding")?,
        dilation: per_axis(dilation, 1, k, "dilation")?,
        ceil_mode,
    })
}

/// Max pooling over the last `spatial_dims` dims: `(values, int64 indices)`.
#[pyfunction]
#[pyo3(signature = (x, kernel_size, stride=None, padding=None, dilation=None, ceil_mode=false, spatial_dims=Size(2)))]
#[allow(clippy::too_many_arguments)]
pub fn _max_pool(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    ceil_mode: bool,
    spatial_dims: Size,
) -> PyResult<(PyTensor, PyTensor)> {
    let t = to_tensor(x, None)?;
    let a = pool_spec(spatial_arg(spatial_dims)?, kernel_size, stride, padding, dilation, ceil_mode)?;
    let (v, i) = run(py, t.numel(), move || image::max_pool(&t, &a))?;
    Ok((v.into(), i.into()))
}

/// Average pooling over the last `spatial_dims` dims.
#[pyfunction]
#[pyo3(signature = (x, kernel_size, stride=None, padding=None, ceil_mode=false, count_include_pad=true,
                    divisor_override=None, spatial_dims=Size(2)))]
#[allow(clippy::too_many_arguments)]
pub fn _avg_pool(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<Int>,
    spatial_dims: Size,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let a = pool_spec(spatial_arg(spatial_dims)?, kernel_size, stride, padding, None, ceil_mode)?;
    let div = divisor_override.map(|d| d.0);
    Ok(run(py, t.numel(), move || image::avg_pool(&t, &a, count_include_pad, div))?.into())
}

/// Adaptive output sizes: an int, None, or a sequence of ints/None (None keeps a dim).
fn output_size_arg(obj: &Bound<'_, PyAny>, k: usize) -> PyResult<Vec<Option<usize>>> {
    let one = |o: &Bound<'_, PyAny>| -> PyResult<Option<usize>> {
        if o.is_none() {
            return Ok(None);
        }
        let v = index_int(o)?;
        usize::try_from(v)
            .map(Some)
            .map_err(|_| PyValueError::new_err(format!("output_size must be non-negative, got {v}")))
    };
    let items: Vec<Option<usize>> = if obj.is_instance_of::<PyTuple>() || obj.is_instance_of::<PyList>() {
        obj.try_iter()?.map(|o| one(&o?)).collect::<PyResult<_>>()?
    } else {
        vec![one(obj)?]
    };
    match items.len() {
        1 => Ok(vec![items[0]; k]),
        n if n == k => Ok(items),
        _ => Err(PyValueError::new_err(format!("output_size must be an int or {k} values, got {items:?}"))),
    }
}

/// Adaptive pooling over the last `spatial_dims` dims: `(values, indices or None)`.
#[pyfunction]
#[pyo3(signature = (x, output_size, spatial_dims=Size(2), max=false))]
pub fn _adaptive_pool(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    output_size: &Bound<'_, PyAny>,
    spatial_dims: Size,
    max: bool,
) -> PyResult<(PyTensor, Option<PyTensor>)> {
    let t = to_tensor(x, None)?;
    let size = output_size_arg(output_size, spatial_arg(spatial_dims)?)?;
    if max {
        let (v, i) = run(py, t.numel(), move || image::adaptive_max_pool(&t, &size))?;
        Ok((v.into(), Some(i.into())))
    } else {
        Ok((run(py, t.numel(), move || image::adaptive_avg_pool(&t, &size))?.into(), None))
    }
}

fn pad_value(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Scalar>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match scalar_of(v)? {
            Some(s) => Ok(Some(s)),
            None => match v.extract::<f64>() {
                Ok(f) => Ok(Some(Scalar::Float(f))),
                Err(_) => {
                    Err(PyTypeError::new_err(format!("pad: value must be a number, got {}", v.get_type().name()?)))
                }
            },
        },
    }
}

/// PyTorch's `F.pad(x, pad, mode, value)`.
#[pyfunction]
#[pyo3(signature = (x, pad, mode="constant", value=None))]
pub fn _pad(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    pad: &Bound<'_, PyAny>,
    mode: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let p = dims_of(pad)?;
    let m = PadMode::parse(mode)?;
    let v = pad_value(value)?;
    if m != PadMode::Constant && v.is_some_and(|s| s.to_f64() != 0.0) {
        return Err(PyValueError::new_err(format!("pad: mode '{mode}' does not take a value argument")));
    }
    let v = v.unwrap_or(Scalar::Int(0));
    Ok(run(py, t.numel(), move || image::pad(&t, &p, m, v))?.into())
}

/// Scale factors: None, a float (repeated over the `k` spatial dims) or one per dim.
fn scales_arg(scale: Option<&Bound<'_, PyAny>>, k: usize) -> PyResult<Option<Vec<f64>>> {
    let v: Option<Vec<f64>> = match scale {
        None => None,
        Some(s) if s.is_none() => None,
        Some(s) if s.is_instance_of::<PyTuple>() || s.is_instance_of::<PyList>() => {
            Some(s.try_iter()?.map(|v| v?.extract::<f64>()).collect::<PyResult<_>>()?)
        }
        Some(s) => Some(vec![s.extract::<f64>()?]),
    };
    Ok(v.map(|v| if v.len() == 1 { vec![v[0]; k] } else { v }))
}

/// `F.interpolate` with the output's spatial `size` resolved; `scale` are the user's
/// scale factors (one per spatial dim) when given.
#[pyfunction]
#[pyo3(signature = (x, size, mode="nearest", align_corners=None, scale=None))]
pub fn _interpolate(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    size: &Bound<'_, PyAny>,
    mode: &str,
    align_corners: Option<bool>,
    scale: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let size = shape_arg(size)?;
    let m = InterpMode::parse(mode)?;
    let sc = scales_arg(scale, t.ndim().saturating_sub(2))?;
    let work = t.numel() + size.iter().product::<usize>();
    Ok(run(py, work, move || image::interpolate(&t, &size, m, align_corners, sc.as_deref()))?.into())
}

// ---- backward primitives (for autograd) ------------------------------------------------

/// Backward of max pooling (also adaptive max pooling): scatter-adds `grad_out` into a
/// zero tensor of `input_shape` at the positions `indices` name. `spatial_dims` defaults
/// to 2 for 3-D/4-D shapes (pass 1 or 3 for max_pool1d/3d).
#[pyfunction]
#[pyo3(signature = (grad_out, indices, input_shape, spatial_dims=None))]
pub fn _max_pool_backward(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
    spatial_dims: Option<Size>,
) -> PyResult<PyTensor> {
    let g = to_tensor(grad_out, None)?;
    let i = to_tensor(indices, None)?;
    let shape = shape_arg(input_shape)?;
    let spatial_dims = spatial_dims.map(spatial_arg).transpose()?;
    let work = shape.iter().product::<usize>() + g.numel();
    Ok(run(py, work, move || pool::max_pool_backward(&g, &i, &shape, spatial_dims))?.into())
}

/// Backward of average pooling with the forward's arguments. The number of pooled dims
/// is the kernel's length, or `spatial_dims` when `kernel_size` is an int (default: 2
/// for 3-D/4-D shapes).
#[pyfunction]
#[pyo3(signature = (grad_out, input_shape, kernel_size, stride=None, padding=None, ceil_mode=false,
                    count_include_pad=true, divisor_override=None, spatial_dims=None))]
#[allow(clippy::too_many_arguments)]
pub fn _avg_pool_backward(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<Int>,
    spatial_dims: Option<Size>,
) -> PyResult<PyTensor> {
    let g = to_tensor(grad_out, None)?;
    let shape = shape_arg(input_shape)?;
    let k = spatial_of(kernel_size, spatial_dims, shape.len())?;
    let a = pool_spec(k, kernel_size, stride, padding, None, ceil_mode)?;
    let div = divisor_override.map(|d| d.0);
    let work = shape.iter().product::<usize>() + g.numel();
    Ok(run(py, work, move || pool::avg_pool_backward(&g, &shape, &a.args(), count_include_pad, div))?.into())
}

/// Backward of adaptive average pooling (the pooled dims follow from the shapes).
#[pyfunction]
pub fn _adaptive_avg_pool_backward(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let g = to_tensor(grad_out, None)?;
    let shape = shape_arg(input_shape)?;
    let work = shape.iter().product::<usize>() + g.numel();
    Ok(run(py, work, move || pool::adaptive_avg_pool_backward(&g, &shape))?.into())
}

/// Backward of `pad`: crops for constant mode, accumulates for the others.
#[pyfunction]
#[pyo3(signature = (grad_out, input_shape, pad, mode="constant"))]
pub fn _pad_backward(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
    pad: &Bound<'_, PyAny>,
    mode: &str,
) -> PyResult<PyTensor> {
    let g = to_tensor(grad_out, None)?;
    let shape = shape_arg(input_shape)?;
    let p = dims_of(pad)?;
    let m = PadMode::parse(mode)?;
    let work = shape.iter().product::<usize>() + g.numel();
    Ok(run(py, work, move || padding::pad_backward(&g, &shape, &p, m))?.into())
}

/// Backward of `interpolate` with the forward's mode, align_corners and scale factors.
#[pyfunction]
#[pyo3(signature = (grad_out, input_shape, mode="nearest", align_corners=None, scale=None))]
pub fn _interpolate_backward(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
    mode: &str,
    align_corners: Option<bool>,
    scale: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let g = to_tensor(grad_out, None)?;
    let shape = shape_arg(input_shape)?;
    let m = InterpMode::parse(mode)?;
    let sc = scales_arg(scale, shape.len().saturating_sub(2))?;
    let work = shape.iter().product::<usize>() + g.numel();
    Ok(run(py, work, move || interp::interpolate_backward(&g, &shape, m, align_corners, sc.as_deref()))?.into())
}
