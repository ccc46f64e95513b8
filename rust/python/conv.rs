//! Convolution bindings: `_core._conv`, `_conv_transpose` (both differentiable) and the
//! raw backward kernels `_conv_backward_input` / `_conv_backward_weight`, which the
//! autograd nodes call from Rust and tests and benchmarks call directly. The public `conv1d`, ... wrappers
//! (unbatched inputs, argument names) are in `python/ferrograd/_conv.py`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::convert::{dims_of, index_int, shape_of, to_tensor};
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::image;
use crate::core::Tensor;
use crate::ops::conv::{self, ConvParams, PaddingSpec};

/// `'same'`, `'valid'`, an int, or a sequence of ints or `(before, after)` pairs.
fn padding_arg(obj: &Bound<'_, PyAny>) -> PyResult<PaddingSpec> {
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.extract::<String>()?.as_str() {
            "same" => Ok(PaddingSpec::Same),
            "valid" => Ok(PaddingSpec::Valid),
            other => Err(PyValueError::new_err(format!(
                "padding must be 'same', 'valid', an int or a sequence of ints, got '{other}'"
            ))),
        };
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = obj.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Ok(PaddingSpec::Explicit(vec![{
            let p = index_int(obj)?;
            (p, p)
        }]));
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        if it.is_instance_of::<PyTuple>() || it.is_instance_of::<PyList>() {
            let pair = dims_of(&it)?;
            let [a, b] = pair[..] else {
                return Err(PyValueError::new_err(format!("a padding pair needs 2 values, got {pair:?}")));
            };
            out.push((a, b));
        } else {
            let p = index_int(&it)?;
            out.push((p, p));
        }
    }
    Ok(PaddingSpec::Explicit(out))
}

/// Resolves the parameters for a kernel of spatial sizes `kernel`; stride and dilation
/// default to 1, padding to 0.
fn params(
    what: &str,
    kernel: &[usize],
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<ConvParams> {
    let ints = |v: Option<&Bound<'_, PyAny>>| v.map_or(Ok(vec![1]), dims_of);
    let (s, d) = (ints(stride)?, ints(dilation)?);
    let p = padding.map_or(Ok(PaddingSpec::Explicit(vec![(0, 0)])), padding_arg)?;
    Ok(ConvParams::resolve(what, kernel, &s, &p, &d, groups)?)
}

/// The kernel's spatial sizes from a weight shape (empty if the shape is too short: the
/// op then reports the bad weight).
fn kernel_of(weight_shape: &[usize]) -> Vec<usize> {
    weight_shape.get(2..).map(|k| k.to_vec()).unwrap_or_default()
}

/// A rough multiply-add count, for deciding whether to release the GIL.
fn work_of(a: usize, b: usize, kernel: &[usize]) -> usize {
    a.max(b) * kernel.get(2..).map_or(1, |k| k.iter().product::<usize>().max(1))
}

fn opt_tensor(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Tensor>> {
    obj.filter(|b| !b.is_none()).map(|b| to_tensor(b, None)).transpose()
}

/// Convolution of `input` (N, C_in, *spatial) by `weight` (C_out, C_in/groups, *kernel).
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
pub fn _conv(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<PyTensor> {
    let (x, w, b) = (to_tensor(input, None)?, to_tensor(weight, None)?, opt_tensor(bias)?);
    let p = params("conv", &kernel_of(w.shape()), stride, padding, dilation, groups)?;
    let work = work_of(x.numel(), w.numel(), w.shape());
    Ok(run(py, work, move || image::conv(&x, &w, b.as_ref(), &p))?.into())
}

/// Transposed convolution of `input` (N, C_in, *spatial) by `weight` (C_in, C_out/groups, *kernel).
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, output_padding=None, groups=1, dilation=None))]
#[allow(clippy::too_many_arguments)]
pub fn _conv_transpose(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    output_padding: Option<&Bound<'_, PyAny>>,
    groups: i64,
    dilation: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let (x, w, b) = (to_tensor(input, None)?, to_tensor(weight, None)?, opt_tensor(bias)?);
    if padding.is_some_and(|p| p.is_instance_of::<PyString>()) {
        return Err(PyValueError::new_err("conv_transpose: padding must be an int or a sequence of ints"));
    }
    let kernel = kernel_of(w.shape());
    let p = params("conv_transpose", &kernel, stride, padding, dilation, groups)?;
    let op = output_padding.map_or(Ok(vec![0]), dims_of)?;
    let nd = kernel.len();
    let op: Vec<i64> = if op.len() == 1 { vec![op[0]; nd] } else { op };
    if let Some(bad) = op.iter().find(|&&v| v < 0) {
        return Err(PyValueError::new_err(format!("conv_transpose: output_padding must be non-negative, got {bad}")));
    }
    let op: Vec<usize> = op.into_iter().map(|v| v as usize).collect();
    let work = work_of(x.numel(), w.numel(), w.shape());
    Ok(run(py, work, move || image::conv_transpose(&x, &w, b.as_ref(), &p, &op))?.into())
}

/// Gradient of `conv` with respect to its input, for a forward input of shape `input_shape`.
#[pyfunction]
#[pyo3(signature = (grad_out, weight, input_shape, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
pub fn _conv_backward_input(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    input_shape: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<PyTensor> {
    let (gy, w) = (to_tensor(grad_out, None)?, to_tensor(weight, None)?);
    let shape = shape_of(&dims_of(input_shape)?)?;
    let p = params("conv_backward_input", &kernel_of(w.shape()), stride, padding, dilation, groups)?;
    let work = work_of(gy.numel(), w.numel(), w.shape());
    Ok(run(py, work, move || conv::conv_backward_input(&gy, &w, &shape, &p))?.into())
}

/// Gradient of `conv` with respect to its weight, for a weight of shape `weight_shape`.
#[pyfunction]
#[pyo3(signature = (grad_out, input, weight_shape, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
pub fn _conv_backward_weight(
    py: Python<'_>,
    grad_out: &Bound<'_, PyAny>,
    input: &Bound<'_, PyAny>,
    weight_shape: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<PyTensor> {
    let (gy, x) = (to_tensor(grad_out, None)?, to_tensor(input, None)?);
    let shape = shape_of(&dims_of(weight_shape)?)?;
    let p = params("conv_backward_weight", &kernel_of(&shape), stride, padding, dilation, groups)?;
    let work = work_of(gy.numel(), x.numel(), &shape);
    Ok(run(py, work, move || conv::conv_backward_weight(&gy, &x, &shape, &p))?.into())
}
