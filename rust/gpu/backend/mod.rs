//! The wgpu implementation of the GPU backend (built with the `gpu` feature).

mod buffers;
mod context;
mod encoder;
mod image;
mod indexing;
mod kernels;
mod launch;
mod linalg;
mod loss;
mod norm;
mod optim;
mod pieces;
mod pipelines;
mod registry;
mod resample;
mod rows;
mod sort;
mod sorted;
mod staging;
mod transfer;

pub use buffers::GpuBuffer;
pub use image::{
    avg_pool, avg_pool_backward, conv, conv_backward_input, conv_backward_weight, max_pool, max_pool_backward, pad,
    pad_backward,
};
pub use indexing::{gather, scatter, scatter_add};
pub use kernels::{arange, binary, binary_scalar, copy, fill, matmul, reduce, select, unary};
pub use linalg::{svd_factors, svdvals};
pub use loss::{cross_entropy_grad, cross_entropy_rows};
pub use norm::{
    batch_norm_backward, batch_norm_eval_stats, batch_norm_normalize, batch_norm_running, batch_norm_stats,
};
pub use optim::optimizer_step;
pub use registry::{adapters, check_index, default_index, is_available};
pub use resample::{resample_backward, resample_linear, resample_nearest};
pub use rows::{arg_extreme, cumulative, softmax};
pub use sort::sort;
pub use sorted::{searchsorted, unique};
pub use transfer::{download, empty, upload};

/// Submits all queued GPU work and waits for it (every adapter in use).
pub fn synchronize() -> crate::core::Result<()> {
    for ctx in registry::live_contexts() {
        ctx.synchronize()?;
    }
    Ok(())
}

/// Bytes of device memory parked in the buffer pools for reuse.
pub fn cached_bytes() -> u64 {
    registry::live_contexts().iter().map(|c| c.pool.cached_bytes()).sum()
}

/// Releases the parked buffers to the driver (live tensors keep theirs).
pub fn empty_cache() {
    for c in registry::live_contexts() {
        c.pool.clear();
    }
}

/// Whether this build has the wgpu backend (it does).
pub const COMPILED: bool = true;
