//! The portable GPU backend: WGSL kernels (top-level `shaders/`) run through wgpu on
//! Vulkan, Metal, DX12 or GL. Ops (rust/ops/) call the functions re-exported here when
//! their inputs live on a GPU; nothing above ops knows which backend ran.
//!
//! Without the `gpu` cargo feature the same names come from `stub.rs` and report that
//! the build has no GPU backend, so no `cfg` spreads beyond this file. The shader texts
//! (`shaders.rs`, `exprs.rs`) are always built: the portability tests read them.

mod dtypes;
mod exprs;
mod shaders;
mod shaders_linalg;
mod shaders_rows;
mod shaders_sort;

pub use dtypes::{check_dtype, compute_type, element_size, no_f16, wgsl_type};
pub use exprs::{binary_expr, cast_expr, combine_expr, unary_expr};
pub use shaders::{source, variants, Family};

/// The primitive reductions the reduce kernel implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    Sum,
    Prod,
    Max,
    Min,
}

/// What `ferrograd.gpu.adapters()` reports about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub index: u32,
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub limits: Vec<(&'static str, u64)>,
    pub features: Vec<String>,
}

#[cfg(feature = "gpu")]
mod backend;
#[cfg(feature = "gpu")]
pub use backend::*;

#[cfg(not(feature = "gpu"))]
mod stub;
#[cfg(not(feature = "gpu"))]
pub use stub::*;
