//! Fused batch normalisation on the GPU (`shaders/batchnorm.wgsl`): per-channel
//! statistics (one workgroup per channel), the running-statistics blend in place, the
//! normalised affine output, and the training gradient (one workgroup per channel).
//! Inputs are float32; `x` and `gy` are dense from their offsets (the op makes them so).

use super::kernels::{buffer, context_of, word};
use super::launch::{grid, launch};
use super::pieces::too_big;
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::core::{DType, Error, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::ops::copy::{assign, contiguous_copy};

/// `[outer, C, inner, x_off, eps, gy_off, a_off, b_off, momentum, factor, from]`.
#[derive(Default)]
struct Md {
    outer: usize,
    channels: usize,
    inner: usize,
    x_off: usize,
    eps: f64,
    gy_off: usize,
    a_off: usize,
    b_off: usize,
    momentum: f64,
    factor: f64,
    from: usize,
}

impl Md {
    fn of(x: &Tensor) -> Result<Md> {
        let s = x.shape();
        if u32::try_from(x.offset() + x.numel()).is_err() {
            return Err(Error::Value(format!("batch_norm: an input of shape {s:?} exceeds the GPU's 32-bit indexing")));
        }
        Ok(Md { outer: s[0], channels: s[1], inner: s[2..].iter().product(), x_off: x.offset(), ..Md::default() })
    }
    fn words(&self) -> Result<Vec<u32>> {
        let w = |v: usize| word(v as isize);
        Ok(vec![
            w(self.outer)?,
            w(self.channels)?,
            w(self.inner)?,
            w(self.x_off)?,
            (self.eps as f32).to_bits(),
            w(self.gy_off)?,
            w(self.a_off)?,
            w(self.b_off)?,
            (self.momentum as f32).to_bits(),
            (self.factor as f32).to_bits(),
            w(self.from)?,
        ])
    }
}

/// Per-channel `[mean; invstd; biased var]` (3C floats) of `x` `(N, C, *)`.
pub fn batch_norm_stats(x: &Tensor, eps: f64) -> Result<Tensor> {
    let ctx = context_of(&[x])?;
    let md = Md { eps, ..Md::of(x)? };
    let stat = empty(&[3 * md.channels], DType::F32, ctx.index)?;
    if too_big(&[x], &[])? {
        for (c0, len) in channel_pieces(x)? {
            let s = batch_norm_stats(&contiguous_copy(&x.narrow(1, c0 as i64, len)?)?, eps)?;
            put_blocks(&stat, 3, md.channels, c0, len, &s)?;
        }
        return Ok(stat);
    }
    let p = pipeline(&ctx, Family::BatchNorm, "stats", &[])?;
    let groups = grid(&ctx, md.channels as u64)?;
    launch(&ctx, &p, &md.words()?, &[buffer(&stat)?.raw(), buffer(x)?.raw()], groups)?;
    Ok(stat)
}

/// The same layout from the running estimates (eval mode): mean `rm`, variance `rv`.
pub fn batch_norm_eval_stats(rm: &Tensor, rv: &Tensor, eps: f64) -> Result<Tensor> {
    let ctx = context_of(&[rm, rv])?;
    let c = rm.numel();
    let md = Md { channels: c, eps, a_off: rm.offset(), b_off: rv.offset(), ..Md::default() };
    let stat = empty(&[3 * c], DType::F32, ctx.index)?;
    let p = pipeline(&ctx, Family::BatchNorm, "eval_stats", &[])?;
    let bufs = [buffer(&stat)?.raw(), buffer(rm)?.raw(), buffer(rv)?.raw()];
    launch(&ctx, &p, &md.words()?, &bufs, grid(&ctx, (c as u64).div_ceil(256))?)?;
    Ok(stat)
}

/// `r = (1 - momentum) * r + momentum * factor * stat[from..from + C]`, in place (`r`
/// contiguous float32 of C values).
pub fn batch_norm_running(r: &Tensor, stat: &Tensor, from: usize, factor: f64, momentum: f64) -> Result<()> {
    let ctx = context_of(&[r, stat])?;
    let c = r.numel();
    let md = Md { channels: c, a_off: r.offset(), momentum, factor, from, ..Md::default() };
    let p = pipeline(&ctx, Family::BatchNorm, "running", &[])?;
    let bufs = [buffer(r)?.raw(), buffer(stat)?.raw()];
    launch(&ctx, &p, &md.words()?, &bufs, grid(&ctx, (c as u64).div_ceil(256))?)
}

/// `(x - mean) * invstd * w + b` with `aff = [w; b]` (2C floats), dense.
pub fn batch_norm_normalize(x: &Tensor, stat: &Tensor, aff: &Tensor) -> Result<Tensor> {
    let ctx = context_of(&[x, stat, aff])?;
    let md = Md::of(x)?;
    let out = empty(x.shape(), DType::F32, ctx.index)?;
    let n = x.numel();
    if n > 0 && too_big(&[x], &[n])? {
        for (c0, len) in channel_pieces(x)? {
            let xs = contiguous_copy(&x.narrow(1, c0 as i64, len)?)?;
            let (st, af) = (blocks(stat, 3, md.channels, c0, len)?, blocks(aff, 2, md.channels, c0, len)?);
            assign(&out.narrow(1, c0 as i64, len)?, &batch_norm_normalize(&xs, &st, &af)?)?;
        }
    } else if n > 0 {
        let p = pipeline(&ctx, Family::BatchNorm, "normalize", &[])?;
        let bufs = [buffer(&out)?.raw(), buffer(x)?.raw(), buffer(stat)?.raw(), buffer(aff)?.raw()];
        launch(&ctx, &p, &md.words()?, &bufs, grid(&ctx, (n as u64).div_ceil(256))?)?;
    }
    Ok(out)
}

/// The training gradient: `(gx, [gw; gb])` from the output gradient `gy` (same shape as
/// `x`, dense from its offset).
pub fn batch_norm_backward(x: &Tensor, gy: &Tensor, stat: &Tensor, aff: &Tensor) -> Result<(Tensor, Tensor)> {
    let ctx = context_of(&[x, gy, stat, aff])?;
    let md = Md { gy_off: gy.offset(), ..Md::of(x)? };
    if u32::try_from(gy.offset() + gy.numel()).is_err() {
        return Err(Error::Value("batch_norm: the gradient exceeds the GPU's 32-bit indexing".into()));
    }
    let gx = empty(x.shape(), DType::F32, ctx.index)?;
    let sums = empty(&[2 * md.channels], DType::F32, ctx.index)?;
    if too_big(&[x, gy], &[x.numel()])? {
        for (c0, len) in channel_pieces(x)? {
            let part = |t: &Tensor| contiguous_copy(&t.narrow(1, c0 as i64, len)?);
            let (st, af) = (blocks(stat, 3, md.channels, c0, len)?, blocks(aff, 2, md.channels, c0, len)?);
            let (g, s) = batch_norm_backward(&part(x)?, &part(gy)?, &st, &af)?;
            assign(&gx.narrow(1, c0 as i64, len)?, &g)?;
            put_blocks(&sums, 2, md.channels, c0, len, &s)?;
        }
        return Ok((gx, sums));
    }
    let p = pipeline(&ctx, Family::BatchNorm, "backward", &[])?;
    let bufs = [
        buffer(&gx)?.raw(),
        buffer(x)?.raw(),
        buffer(stat)?.raw(),
        buffer(aff)?.raw(),
        buffer(gy)?.raw(),
        buffer(&sums)?.raw(),
    ];
    launch(&ctx, &p, &md.words()?, &bufs, grid(&ctx, md.channels as u64)?)?;
    Ok((gx, sums))
}

// ---- inputs larger than one storage binding: pieces of whole channels ----------------------

/// Channel ranges `(first, count)` of `x` `(N, C, *)` whose values fit three quarters
/// of a storage binding each (statistics are per channel, so channels never mix; the
/// margin covers the buffer pool's rounding up, at most a quarter).
fn channel_pieces(x: &Tensor) -> Result<Vec<(usize, usize)>> {
    let limit = (buffer(x)?.ctx().limits.max_storage_buffer_binding_size / 4 * 3) as usize;
    let c = x.shape()[1];
    let per = 4 * x.numel() / c.max(1);
    if per > limit {
        return Err(Error::OutOfMemory(format!(
            "batch_norm: one channel of an input of shape {:?} takes more than three quarters of a storage \
             binding ({} bytes)",
            x.shape(),
            limit / 3 * 4
        )));
    }
    let step = limit / per.max(1);
    Ok((0..c).step_by(step).map(|c0| (c0, step.min(c - c0))).collect())
}

/// Channels `[c0, c0 + len)` of the per-channel vector `v` (`k` blocks of `c` values),
/// as a fresh vector of `k` blocks of `len`.
fn blocks(v: &Tensor, k: usize, c: usize, c0: usize, len: usize) -> Result<Tensor> {
    let part = v.reshape(&[k as i64, c as i64])?.narrow(1, c0 as i64, len)?;
    contiguous_copy(&part)?.reshape(&[(k * len) as i64])
}

/// Writes the `k` blocks of `len` in `src` into channels `[c0, c0 + len)` of `dst`.
fn put_blocks(dst: &Tensor, k: usize, c: usize, c0: usize, len: usize, src: &Tensor) -> Result<()> {
    let part = dst.reshape(&[k as i64, c as i64])?.narrow(1, c0 as i64, len)?;
    assign(&part, &src.reshape(&[k as i64, len as i64])?)
}
