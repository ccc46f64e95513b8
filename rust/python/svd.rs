//! `_core._svdvals(x)`: singular values of a batch of matrices (see `ops/svd.rs`).

use pyo3::prelude::*;

use super::convert::to_tensor;
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func::linalg::svdvals;

#[pyfunction]
pub fn _svdvals(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let n = t.ndim();
    let k = if n >= 2 { t.shape()[n - 2].min(t.shape()[n - 1]) } else { 1 };
    // Jacobi does about k^2 * max(m, n) work per matrix per sweep.
    let work = t.numel().saturating_mul(k);
    Ok(run(py, work, move || svdvals(&t))?.into())
}
