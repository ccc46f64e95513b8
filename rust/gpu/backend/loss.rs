//! Fused cross-entropy on the GPU (`shaders/xent.wgsl`): one workgroup per sample for
//! the loss and logsumexp, one invocation per logit for the gradient. Targets were
//! validated on the host (rust/ops/loss.rs); they arrive as one int32 class per sample
//! (-1 where ignored) and float32 class weights.

use super::kernels::{buffer, context_of};
use super::launch::{grid, launch};
use super::pieces::{bindable, piece_bytes};
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::core::{DType, Error, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::ops::copy::{assign, contiguous_copy};

/// The fixed part of the metadata: `[rows, C, inner, smoothing, w_sum]`.
fn head(rows: usize, classes: usize, inner: usize, smoothing: f64, w_sum: f64) -> Result<Vec<u32>> {
    if u32::try_from(rows * classes).is_err() {
        return Err(Error::Value("cross_entropy: too many logits for the GPU's 32-bit indexing".into()));
    }
    Ok(vec![rows as u32, classes as u32, inner as u32, (smoothing as f32).to_bits(), (w_sum as f32).to_bits()])
}

/// Per-sample `(loss, logsumexp)`, both float32 `[rows]`. `logits` is dense from element 0.
pub fn cross_entropy_rows(
    logits: &Tensor,
    cls: &Tensor,
    weight: &Tensor,
    inner: usize,
    smoothing: f64,
    w_sum: f64,
) -> Result<(Tensor, Tensor)> {
    crate::gpu::no_f16(logits.dtype(), "cross_entropy")?;
    let ctx = context_of(&[logits, cls, weight])?;
    let rows = cls.numel();
    let classes = weight.numel();
    let loss = empty(&[rows], DType::F32, ctx.index)?;
    let lse = empty(&[rows], DType::F32, ctx.index)?;
    if rows == 0 {
        return Ok((loss, lse));
    }
    if !bindable(&[logits])? {
        for (n0, len, per) in batches(logits)? {
            let (x, c) = (
                contiguous_copy(&logits.narrow(0, n0, len)?)?,
                contiguous_copy(&cls.narrow(0, n0 * per as i64, len * per)?)?,
            );
            let (l, s) = cross_entropy_rows(&x, &c, weight, inner, smoothing, w_sum)?;
            assign(&loss.narrow(0, n0 * per as i64, len * per)?, &l)?;
            assign(&lse.narrow(0, n0 * per as i64, len * per)?, &s)?;
        }
        return Ok((loss, lse));
    }
    let md = head(rows, classes, inner, smoothing, w_sum)?;
    let p = pipeline(&ctx, Family::Xent, "forward", &[])?;
    let bufs =
        [buffer(&loss)?.raw(), buffer(logits)?.raw(), buffer(cls)?.raw(), buffer(weight)?.raw(), buffer(&lse)?.raw()];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, rows as u64)?)?;
    Ok((loss, lse))
}

/// The gradient with respect to the logits: `upstream[row * g_stride] * scale` is each
/// sample's incoming gradient (`g_stride` 0 for a reduced loss).
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_grad(
    logits: &Tensor,
    cls: &Tensor,
    weight: &Tensor,
    lse: &Tensor,
    upstream: &Tensor,
    g_stride: usize,
    scale: f64,
    inner: usize,
    smoothing: f64,
    w_sum: f64,
) -> Result<Tensor> {
    let ctx = context_of(&[logits, cls, weight, lse, upstream])?;
    let out = empty(logits.shape(), DType::F32, ctx.index)?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    if !bindable(&[logits, &out])? {
        for (n0, len, per) in batches(logits)? {
            let rows = |t: &Tensor| contiguous_copy(&t.narrow(0, n0 * per as i64, len * per)?);
            let x = contiguous_copy(&logits.narrow(0, n0, len)?)?;
            let g = if g_stride == 0 { upstream.clone() } else { rows(upstream)? };
            let gx =
                cross_entropy_grad(&x, &rows(cls)?, weight, &rows(lse)?, &g, g_stride, scale, inner, smoothing, w_sum)?;
            assign(&out.narrow(0, n0, len)?, &gx)?;
        }
        return Ok(out);
    }
    let mut md = head(cls.numel(), weight.numel(), inner, smoothing, w_sum)?;
    md.extend([g_stride as u32, (scale as f32).to_bits()]);
    let p = pipeline(&ctx, Family::Xent, "backward", &[])?;
    let bufs = [
        buffer(&out)?.raw(),
        buffer(logits)?.raw(),
        buffer(cls)?.raw(),
        buffer(weight)?.raw(),
        buffer(lse)?.raw(),
        buffer(upstream)?.raw(),
    ];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, (n as u64).div_ceil(256))?)?;
    Ok(out)
}

/// Batches of the `(N, C, *)` logits that each fit a quarter of a storage binding:
/// `(first sample, samples, rows per sample)`; the per-sample tensors hold `N * rows`.
fn batches(logits: &Tensor) -> Result<Vec<(i64, usize, usize)>> {
    let shape = logits.shape();
    let sample = 4 * shape[1..].iter().product::<usize>();
    let limit = piece_bytes(logits)?;
    if shape.len() < 2 || sample > limit {
        return Err(Error::OutOfMemory(format!(
            "cross_entropy: one sample's logits {shape:?} take more than a quarter of a storage binding ({} bytes)",
            4 * limit
        )));
    }
    let per = (limit / sample).max(1);
    let rows = shape[2..].iter().product::<usize>();
    Ok((0..shape[0]).step_by(per).map(|n0| (n0 as i64, per.min(shape[0] - n0), rows)).collect())
}
