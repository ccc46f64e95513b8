//! Which dtypes a GPU tensor may have, and how each is stored. WGSL has 32-bit scalars
//! only (f16 behind an optional feature), so float32, int32, uint32 live as themselves
//! and bool lives as u32 0/1 (WGSL's bool has no defined memory layout).

use crate::bail;
use crate::core::{DType, Result};

/// The WGSL element type that stores `d`, or None when the GPU cannot hold it.
pub fn wgsl_type(d: DType) -> Option<&'static str> {
    match d {
        DType::F32 => Some("f32"),
        DType::I32 => Some("i32"),
        DType::U32 | DType::Bool => Some("u32"),
        _ => None,
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

/// A TypeError naming the dtype and the conversion to use, unless the GPU holds `d`.
pub fn check_dtype(d: DType, what: &str) -> Result<()> {
    if wgsl_type(d).is_some() {
        return Ok(());
    }
    let to = nearest(d);
    bail!(
        Type,
        "{what}: {d} tensors cannot live on the GPU (it holds float32, int32, uint32 and bool); \
         convert first, e.g. t.to(ferrograd.{to}).to('gpu'); nothing is narrowed silently"
    )
}
