//! The GPU backend's interface in a build without the `gpu` feature: the same names,
//! each reporting that there is no backend. `GpuBuffer` cannot be constructed, so the
//! `Storage::Gpu` arm exists for the type checker only.

use std::sync::atomic::AtomicU64;

use super::{AdapterSummary, ReduceKind};
use crate::core::{DType, Device, Error, Layout, Result, Scalar, Tensor};
use crate::ops::table::{BinaryOp, UnaryOp};

pub enum GpuBuffer {}

impl GpuBuffer {
    pub fn device(&self) -> Device {
        match *self {}
    }
    pub fn version(&self) -> &AtomicU64 {
        match *self {}
    }
}

pub const COMPILED: bool = false;

fn unavailable<T>() -> Result<T> {
    Err(Error::Runtime(
        "this build of ferrograd has no GPU backend (it was compiled without the `gpu` cargo feature)".into(),
    ))
}

pub fn is_available() -> bool {
    false
}
pub fn adapters() -> Result<Vec<AdapterSummary>> {
    Ok(Vec::new())
}
pub fn default_index() -> Result<u32> {
    unavailable()
}
pub fn check_index(_: u32) -> Result<()> {
    unavailable()
}
pub fn synchronize() -> Result<()> {
    Ok(())
}
pub fn cached_bytes() -> u64 {
    0
}
pub fn empty_cache() {}
pub fn empty(_: &[usize], _: DType, _: u32) -> Result<Tensor> {
    unavailable()
}
pub fn upload(_: &Tensor, _: u32) -> Result<Tensor> {
    unavailable()
}
pub fn download(_: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn cross_entropy_rows(_: &Tensor, _: &Tensor, _: &Tensor, _: usize, _: f64, _: f64) -> Result<(Tensor, Tensor)> {
    unavailable()
}
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_grad(
    _: &Tensor,
    _: &Tensor,
    _: &Tensor,
    _: &Tensor,
    _: &Tensor,
    _: usize,
    _: f64,
    _: usize,
    _: f64,
    _: f64,
) -> Result<Tensor> {
    unavailable()
}
pub fn binary_scalar(_: BinaryOp, _: &Tensor, _: &Tensor, _: &Layout, _: Scalar, _: bool) -> Result<()> {
    unavailable()
}
pub fn optimizer_step(
    _: &crate::cpu::optim::Rule,
    _: &Tensor,
    _: &Tensor,
    _: &[Tensor],
    _: u64,
    _: bool,
) -> Result<()> {
    unavailable()
}
pub fn copy(_: &Tensor, _: &Layout, _: &Tensor) -> Result<()> {
    unavailable()
}
pub fn fill(_: &Tensor, _: Scalar) -> Result<()> {
    unavailable()
}
pub fn arange(_: Scalar, _: Scalar, _: usize, _: DType, _: u32) -> Result<Tensor> {
    unavailable()
}
pub fn unary(_: UnaryOp, _: &Tensor, _: &Tensor) -> Result<()> {
    unavailable()
}
pub fn binary(_: BinaryOp, _: &Tensor, _: &Tensor, _: &Layout, _: &Tensor, _: &Layout) -> Result<()> {
    unavailable()
}
#[allow(clippy::too_many_arguments)]
pub fn select(_: &Tensor, _: &Tensor, _: &Layout, _: &Tensor, _: &Layout, _: &Tensor, _: &Layout) -> Result<()> {
    unavailable()
}
pub fn reduce(_: ReduceKind, _: &Tensor, _: &[usize]) -> Result<Tensor> {
    unavailable()
}
#[allow(clippy::too_many_arguments)]
pub fn matmul(_: &Tensor, _: &Tensor, _: &Layout, _: &Tensor, _: &Layout, _: usize, _: usize, _: usize) -> Result<()> {
    unavailable()
}

// Linear algebra (backend/linalg.rs).
pub fn svdvals(_: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn svd_factors(_: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    unavailable()
}

// Fused batch norm (backend/norm.rs).
pub fn batch_norm_stats(_: &Tensor, _: f64) -> Result<Tensor> {
    unavailable()
}
pub fn batch_norm_eval_stats(_: &Tensor, _: &Tensor, _: f64) -> Result<Tensor> {
    unavailable()
}
pub fn batch_norm_running(_: &Tensor, _: &Tensor, _: usize, _: f64, _: f64) -> Result<()> {
    unavailable()
}
pub fn batch_norm_normalize(_: &Tensor, _: &Tensor, _: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn batch_norm_backward(_: &Tensor, _: &Tensor, _: &Tensor, _: &Tensor) -> Result<(Tensor, Tensor)> {
    unavailable()
}

// Row-wise and indexing kernels (backend/rows.rs, backend/indexing.rs).
pub fn softmax(_: &Tensor, _: usize, _: bool) -> Result<Tensor> {
    unavailable()
}
pub fn arg_extreme(_: &Tensor, _: usize, _: bool) -> Result<Tensor> {
    unavailable()
}
pub fn cumulative(_: &Tensor, _: usize, _: bool) -> Result<Tensor> {
    unavailable()
}
pub fn gather(_: &Tensor, _: &Tensor, _: &Tensor, _: &Layout, _: usize) -> Result<()> {
    unavailable()
}
pub fn scatter(_: &Tensor, _: &Tensor, _: &Tensor, _: &Layout, _: usize) -> Result<()> {
    unavailable()
}
pub fn scatter_add(_: &Tensor, _: usize, _: &Tensor, _: &Tensor) -> Result<()> {
    unavailable()
}

// Sort-type kernels (backend/sort.rs, backend/sorted.rs).
pub fn sort(_: &Tensor, _: usize, _: bool) -> Result<(Tensor, Tensor)> {
    unavailable()
}
pub fn searchsorted(_: &Tensor, _: &Tensor, _: bool) -> Result<Tensor> {
    unavailable()
}
pub fn unique(_: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    unavailable()
}

// Interpolation (backend/resample.rs).
use crate::cpu::resample::Tap;

pub fn resample_nearest(_: &Tensor, _: &[Vec<usize>], _: &[usize]) -> Result<Tensor> {
    unavailable()
}
pub fn resample_linear(_: &Tensor, _: &[Vec<Tap<f32>>], _: [bool; 3], _: &[usize]) -> Result<Tensor> {
    unavailable()
}
pub fn resample_backward(_: &Tensor, _: &[Vec<Tap<f32>>], _: [bool; 3], _: &[usize]) -> Result<Tensor> {
    unavailable()
}

// ---- image ops (backend/image.rs) --------------------------------------------------------

use crate::cpu::conv::Geom;
use crate::cpu::pool::{Divisor, Win};

pub fn conv(_: &Geom, _: &Tensor, _: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn conv_backward_input(_: &Geom, _: &Tensor, _: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn conv_backward_weight(_: &Geom, _: &Tensor, _: &Tensor) -> Result<Tensor> {
    unavailable()
}
pub fn max_pool(_: &Tensor, _: [usize; 3], _: [&[Win]; 3], _: &[usize]) -> Result<(Tensor, Tensor)> {
    unavailable()
}
pub fn avg_pool(_: &Tensor, _: [usize; 3], _: [&[Win]; 3], _: Divisor, _: &[usize]) -> Result<Tensor> {
    unavailable()
}
pub fn avg_pool_backward(_: &Tensor, _: [usize; 3], _: [&[Win]; 3], _: Divisor, _: &[usize]) -> Result<Tensor> {
    unavailable()
}
pub fn max_pool_backward(
    _: &Tensor,
    _: &Tensor,
    _: [usize; 3],
    _: [usize; 3],
    _: Option<[&[Win]; 3]>,
    _: &[usize],
) -> Result<Tensor> {
    unavailable()
}
pub fn pad(_: &Tensor, _: [usize; 3], _: &[Vec<usize>], _: &[usize]) -> Result<Tensor> {
    unavailable()
}
pub fn pad_backward(_: &Tensor, _: [usize; 3], _: &[Vec<usize>], _: &[usize]) -> Result<Tensor> {
    unavailable()
}
