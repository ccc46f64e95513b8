//! `_core._cross_entropy`: the fused loss behind `nn.functional.cross_entropy` for integer
//! class targets (see `ops/loss.rs`).

use pyo3::prelude::*;

use super::convert::to_tensor;
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::loss;
use crate::ops::loss::{targets, Reduction};

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"))]
pub fn _cross_entropy(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<PyTensor> {
    let x = to_tensor(input, None)?;
    let y = to_tensor(target, None)?;
    let w = weight.filter(|w| !w.is_none()).map(|w| to_tensor(w, None)).transpose()?;
    let r = Reduction::parse(reduction).map_err(super::errors::to_py)?;
    let work = x.numel();
    Ok(run(py, work, move || {
        let t = targets(&x, &y, w.as_ref(), ignore_index, label_smoothing, r)?;
        loss::cross_entropy(&x, t)
    })?
    .into())
}
