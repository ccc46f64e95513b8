//! `_core._batch_norm`: the fused batch normalisation behind `nn.functional.batch_norm`
//! (see `ops/norm.rs` and `autograd/func/norm.rs`).

use pyo3::prelude::*;

use super::convert::to_tensor;
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::norm::{batch_norm, BatchNorm};
use crate::core::Tensor;

fn opt(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Tensor>> {
    obj.filter(|o| !o.is_none()).map(|o| to_tensor(o, None)).transpose()
}

#[pyfunction]
#[pyo3(signature = (input, running_mean=None, running_var=None, weight=None, bias=None, training=false,
                    momentum=0.1, eps=1e-5))]
#[allow(clippy::too_many_arguments)]
pub fn _batch_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> PyResult<PyTensor> {
    let x = to_tensor(input, None)?;
    let (rm, rv) = (opt(running_mean)?, opt(running_var)?);
    let (w, b) = (opt(weight)?, opt(bias)?);
    let work = x.numel();
    Ok(run(py, work, move || {
        let running = rm.as_ref().zip(rv.as_ref());
        batch_norm(&x, w.as_ref(), b.as_ref(), &BatchNorm { running, training, momentum, eps })
    })?
    .into())
}
