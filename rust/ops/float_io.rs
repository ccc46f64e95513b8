//! Reading float tensors in fused kernels that compute in float32 or float64: the
//! conversion of an input to one of those, raw element access, and the two-way
//! conversion through f64 that their accumulators use.

use crate::core::{DType, Result, Tensor};
use crate::ops::copy::{astype, contiguous};

/// An element type a fused kernel computes in.
pub trait Real: Copy + Send + Sync + 'static {
    fn f64(self) -> f64;
    fn of(v: f64) -> Self;
}

impl Real for f32 {
    fn f64(self) -> f64 {
        self as f64
    }
    fn of(v: f64) -> f32 {
        v as f32
    }
}

impl Real for f64 {
    fn f64(self) -> f64 {
        self
    }
    fn of(v: f64) -> f64 {
        v
    }
}

/// `x` as a contiguous float32/float64 tensor (half types and others as float32).
pub fn compute_copy(x: &Tensor) -> Result<Tensor> {
    let x = contiguous(x)?;
    match x.dtype() {
        DType::F32 | DType::F64 => Ok(x),
        _ => astype(&x, DType::F32),
    }
}

/// The elements of a contiguous tensor.
///
/// # Safety
/// `t` must be contiguous, hold `T`, and not be written while the slice lives.
pub unsafe fn slice<T>(t: &Tensor) -> &[T] {
    if t.numel() == 0 {
        return &[];
    }
    std::slice::from_raw_parts(t.data_ptr() as *const T, t.numel())
}
