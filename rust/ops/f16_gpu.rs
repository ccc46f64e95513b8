//! float16 on the GPU through the float32 kernels. The CPU computes every float16 op in
//! float32 and rounds the result once; the GPU's compound kernels (softmax, scans,
//! sorting, convolution, pooling, interpolation, losses, SVD) are float32 kernels, and
//! float16 operands run through them the same way: widened on the device (exact),
//! computed in float32, rounded once. Ops that only select values (argmax, max pooling,
//! sorting) therefore give the CPU's bits exactly.

use crate::core::{DType, Result, Tensor};
use crate::ops::copy::astype;

/// `t` as float32 when it is a float16 GPU tensor (an exact conversion on the device),
/// else `t` itself.
pub(crate) fn widen(t: &Tensor) -> Result<Tensor> {
    if t.dtype() == DType::F16 && t.device().is_gpu() {
        astype(t, DType::F32)
    } else {
        Ok(t.clone())
    }
}

/// The float32 result `t` of a widened computation, rounded back to the caller's
/// `dtype` (`t` itself when it already has it).
pub(crate) fn narrow(t: Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t)
    } else {
        astype(&t, dtype)
    }
}

/// `f` run on `x` widened, its result rounded back to `x`'s dtype.
pub(crate) fn through_f32(x: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    narrow(f(&widen(x)?)?, x.dtype())
}
