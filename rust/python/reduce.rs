//! Reductions and along-axis ops for Python: `_reduce("sum", x, axis, keepdims, dtype)`,
//! `mean`, `var`, `std`, `argmax`, `softmax`, `cumulative_sum`...

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::convert::{dims_of, to_tensor, Int};
use super::dtype::opt_dtype;
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::reduce as ad;
use crate::ops::reduce::{self as r, ReduceOp};

fn axes_arg(axis: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match axis {
        Some(a) if !a.is_none() => Ok(Some(dims_of(a)?)),
        _ => Ok(None),
    }
}

/// Runs a reduction that takes (tensor, axes, keepdims).
fn over_axes(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    f: fn(&crate::core::Tensor, Option<&[i64]>, bool) -> crate::core::Result<crate::core::Tensor>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let axes = axes_arg(axis)?;
    Ok(run(py, t.numel(), move || f(&t, axes.as_deref(), keepdims))?.into())
}

#[pyfunction]
#[pyo3(signature = (name, x, axis=None, keepdims=false, dtype=None))]
pub fn _reduce(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let axes = axes_arg(axis)?;
    let dt = opt_dtype(dtype)?;
    let op = match name {
        "sum" => ReduceOp::Sum,
        "prod" => ReduceOp::Prod,
        "max" => ReduceOp::Max,
        "min" => ReduceOp::Min,
        "all" => ReduceOp::All,
        "any" => ReduceOp::Any,
        _ => {
            return Err(PyValueError::new_err(format!("unknown reduction {name:?}")));
        }
    };
    Ok(run(py, t.numel(), move || ad::reduce(op, &t, axes.as_deref(), keepdims, dt))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false))]
pub fn mean(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
) -> PyResult<PyTensor> {
    over_axes(py, x, axis, keepdims, ad::mean)
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, correction=0.0, keepdims=false, std=false))]
pub fn _var(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    correction: f64,
    keepdims: bool,
    std: bool,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let axes = axes_arg(axis)?;
    Ok(run(py, t.numel(), move || ad::var(&t, axes.as_deref(), correction, keepdims, std))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false))]
pub fn count_nonzero(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
) -> PyResult<PyTensor> {
    over_axes(py, x, axis, keepdims, r::count_nonzero)
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false))]
pub fn logsumexp(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
) -> PyResult<PyTensor> {
    over_axes(py, x, axis, keepdims, ad::logsumexp)
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false, largest=true))]
pub fn _arg_extreme(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<Int>,
    keepdims: bool,
    largest: bool,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let axis = axis.map(|a| a.0);
    Ok(run(py, t.numel(), move || r::arg_extreme(&t, axis, keepdims, largest))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, axis=Int(-1), log=false))]
pub fn _softmax(py: Python<'_>, x: &Bound<'_, PyAny>, axis: Int, log: bool) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    Ok(run(py, t.numel(), move || ad::softmax(&t, axis.0, log))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, dtype=None, prod=false))]
pub fn _cumulative(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: Option<Int>,
    dtype: Option<&Bound<'_, PyAny>>,
    prod: bool,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let dt = opt_dtype(dtype)?;
    let axis = axis.map(|a| a.0);
    Ok(run(py, t.numel(), move || ad::cumulative(&t, axis, prod, dt))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, axis=Int(-1), descending=false))]
pub fn _sort(py: Python<'_>, x: &Bound<'_, PyAny>, axis: Int, descending: bool) -> PyResult<(PyTensor, PyTensor)> {
    let t = to_tensor(x, None)?;
    let (v, i) = run(py, t.numel(), move || {
        let (v, i) = r::sort(&t, axis.0, descending)?;
        if !crate::autograd::graph::needs_grad(&[&t]) || t.ndim() == 0 {
            return Ok((v, i));
        }
        let a = crate::core::normalize_axis(axis.0, t.ndim())?;
        Ok((crate::autograd::func::shape::take_along(&t, &i, a)?, i))
    })?;
    Ok((v.into(), i.into()))
}

#[pyfunction]
#[pyo3(signature = (sorted_sequence, values, right=false))]
pub fn _searchsorted(
    py: Python<'_>,
    sorted_sequence: &Bound<'_, PyAny>,
    values: &Bound<'_, PyAny>,
    right: bool,
) -> PyResult<PyTensor> {
    let s = to_tensor(sorted_sequence, None)?;
    let v = to_tensor(values, None)?;
    Ok(run(py, v.numel(), move || r::searchsorted(&s, &v, right))?.into())
}

#[pyfunction]
pub fn _unique(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<(PyTensor, PyTensor, PyTensor)> {
    let t = to_tensor(x, None)?;
    let (u, i, c) = run(py, t.numel(), move || r::unique(&t))?;
    Ok((u.into(), i.into(), c.into()))
}
