//! ferrograd: strided n-d tensors, CPU kernels, and (behind the `python` feature) the
//! PyO3 bindings. Nothing outside `python/` knows that Python exists.

pub mod autograd;
pub mod core;
pub mod cpu;
pub mod gpu;
pub mod ops;

#[cfg(feature = "python")]
mod python;

pub use crate::core::{DType, Device, Error, Layout, Result, Scalar, Tensor};
