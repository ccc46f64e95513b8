//! Which dtypes a GPU tensor may have, and how each is stored. WGSL has 32-bit scalars,
//! plus f16 behind the optional `shader-f16` feature: float32, int32, uint32 live as
//! themselves, bool lives as u32 0/1 (WGSL's bool has no defined memory layout), and
//! float16 lives as f16 on adapters with the feature (the backend checks the adapter
//! when a tensor is created; see `backend/transfer.rs`).

use crate::bail;
use crate::core::{DType, Result};

/// The WGSL element type that stores `d`, or None when no GPU can hold it.
pub fn wgsl_type(d: DType) -> Option<&'static str> {
    match d {
        DType::F32 => Some("f32"),
        DType::F16 => Some("f16"),
        DType::I32 => Some("i32"),
        DType::U32 | DType::Bool => Some("u32"),
        _ => None,
    }
}

/// The WGSL type kernels compute `d` in: float16 values are widened to f32 on load and
/// rounded once on store, as the CPU computes float16 ops in float32 and rounds (and
/// WGSL's f16 builtins are allowed far less precision than a correctly rounded result).
pub fn compute_type(d: DType) -> Option<&'static str> {
    match d {
        DType::F16 => Some("f32"),
        _ => wgsl_type(d),
    }
}

/// Bytes per element in a GPU buffer.
pub fn element_size(d: DType) -> usize {
    if d == DType::F16 {
        2
    } else {
        4
    }
}

/// The dtype to convert to before moving a `d` tensor to the GPU.
fn nearest(d: DType) -> DType {
    if d.is_float() {
        DType::F32
    } else if matches!(d, DType::U8 | DType::U16 | DType::U64) {
        DType::U32
    } else {
        DType::I32
    }
}

/// A TypeError naming the dtype and the conversion to use, unless some GPU holds `d`
/// (float16 passes here; whether this adapter has shader-f16 is checked by the backend).
pub fn check_dtype(d: DType, what: &str) -> Result<()> {
    if wgsl_type(d).is_some() {
        return Ok(());
    }
    let to = nearest(d);
    bail!(
        Type,
        "{what}: {d} tensors cannot live on the GPU (it holds float32, int32, uint32 and bool, and float16 \
         where the adapter has shader-f16); convert first, e.g. t.to(ferrograd.{to}).to('gpu'); nothing is \
         narrowed silently"
    )
}

/// An internal error for kernels without a float16 variant: the ops widen float16
/// operands to float32 before calling them (`ops/f16_gpu.rs`), so reaching one with
/// float16 is a bug, reported instead of running a kernel on the wrong element size.
pub fn no_f16(d: DType, what: &str) -> Result<()> {
    if d == DType::F16 {
        bail!(Runtime, "internal: the GPU {what} kernel has no float16 variant; the op should have widened its input");
    }
    Ok(())
}
