//! The tensor core: dtypes, layouts (shape + strides + offset), storage and the tensor handle.

mod device;
mod dtype;
mod error;
pub mod layout;
mod storage;
mod tensor;

pub use device::Device;
pub use dtype::{default_float, promote, set_default_float, DType, Element, Scalar};
pub use error::{Error, Result};
pub use layout::{broadcast_shapes, normalize_axis, Dims, Layout, Strides};
pub use storage::{CpuBuffer, Owner, Storage, GPU_TENSOR_ON_CPU_PATH};
pub use tensor::{Tensor, TensorImpl};

/// Dispatch on a runtime [`DType`], binding the matching Rust element type to `$T`.
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::core::DType as __D;
        match $dt {
            __D::Bool => {
                type $T = bool;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::U16 => {
                type $T = u16;
                $body
            }
            __D::U32 => {
                type $T = u32;
                $body
            }
            __D::U64 => {
                type $T = u64;
                $body
            }
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
}
