//! `_core._optimizer_step(kind, params, grads, state, steps, hyper)`: one fused, in-place
//! update of a parameter group (see `ops/optim.rs`); `python/ferrograd/optim` calls it.

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::errors::run;
use super::tensor::PyTensor;
use crate::core::Tensor;
use crate::cpu::optim::Rule;
use crate::ops::optim;

fn get<'py, T: FromPyObjectOwned<'py>>(hyper: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match hyper.get_item(key)? {
        Some(v) => v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            PyValueError::new_err(format!("optimizer step: {key}: {e}"))
        }),
        None => Err(PyKeyError::new_err(format!("optimizer step: missing hyper-parameter '{key}'"))),
    }
}

fn rule(kind: &str, h: &Bound<'_, PyDict>) -> PyResult<Rule> {
    let (lr, wd, maximize) = (get(h, "lr")?, get(h, "weight_decay")?, get(h, "maximize")?);
    Ok(match kind {
        "sgd" => Rule::Sgd {
            lr,
            momentum: get(h, "momentum")?,
            dampening: get(h, "dampening")?,
            weight_decay: wd,
            nesterov: get(h, "nesterov")?,
            maximize,
        },
        "adam" | "adamw" => {
            let (beta1, beta2): (f64, f64) = get(h, "betas")?;
            Rule::Adam {
                lr,
                beta1,
                beta2,
                eps: get(h, "eps")?,
                weight_decay: wd,
                decoupled: kind == "adamw",
                amsgrad: get(h, "amsgrad")?,
                maximize,
            }
        }
        "rmsprop" => Rule::RmsProp {
            lr,
            alpha: get(h, "alpha")?,
            eps: get(h, "eps")?,
            weight_decay: wd,
            momentum: get(h, "momentum")?,
            centered: get(h, "centered")?,
            maximize,
        },
        "adagrad" => {
            Rule::Adagrad { lr, lr_decay: get(h, "lr_decay")?, eps: get(h, "eps")?, weight_decay: wd, maximize }
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "optimizer step: unknown rule '{other}' (sgd, adam, adamw, rmsprop, adagrad)"
            )))
        }
    })
}

/// Updates `params` in place; returns each parameter's state tensors (new ones created).
#[pyfunction]
pub fn _optimizer_step(
    py: Python<'_>,
    kind: &str,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    state: Vec<Vec<Option<PyRef<'_, PyTensor>>>>,
    steps: Vec<u64>,
    hyper: &Bound<'_, PyDict>,
) -> PyResult<Vec<Vec<PyTensor>>> {
    let r = rule(kind, hyper)?;
    let params: Vec<Tensor> = params.iter().map(|p| p.t.clone()).collect();
    let grads: Vec<Tensor> = grads.iter().map(|g| g.t.clone()).collect();
    let state: Vec<Vec<Option<Tensor>>> =
        state.iter().map(|s| s.iter().map(|t| t.as_ref().map(|t| t.t.clone())).collect()).collect();
    let work: usize = params.iter().map(Tensor::numel).sum();
    let out = run(py, work, move || optim::step(&r, &params, &grads, state, &steps))?;
    Ok(out.into_iter().map(|s| s.into_iter().map(PyTensor::from).collect()).collect())
}
