//! Singular values (and the singular vectors their gradient needs) of a batch of float32
//! matrices: one-sided Jacobi in `shaders/svd.wgsl`, one workgroup per matrix. The
//! input is read through its strides (no copy); the rotated vectors live in a scratch
//! buffer of `(k * stride + 2k)` floats per matrix.

use super::kernels::{buffer, context_of, word};
use super::launch::{grid, launch};
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::gpu::shaders::Family;

/// Sweeps after which a matrix is reported as not converged (NaN), as on the CPU.
const MAX_SWEEPS: u32 = 80;

/// The metadata of `shaders/svd.wgsl` for `x` `(..., m, n)`, and (batch, k, len, stride).
fn metadata(x: &Tensor, factors: bool) -> Result<(Vec<u32>, [usize; 4])> {
    let nd = x.ndim();
    let (m, n) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let (k, len) = (m.min(n), m.max(n));
    let batch: usize = x.shape()[..nd - 2].iter().product();
    let stride = if factors { len + k } else { len };
    let scratch = batch.checked_mul(k * stride + 2 * k);
    let fits = |v: Option<usize>| v.is_some_and(|v| u32::try_from(v).is_ok());
    if !fits(scratch) || !fits(Some(x.numel())) {
        bail!(Value, "svdvals: a batch of shape {:?} exceeds the GPU's 32-bit indexing", x.shape());
    }
    // The rotations act on the columns when m >= n, else on the rows (the shorter side
    // indexes the vectors).
    let (sm, sn) = (x.strides()[nd - 2], x.strides()[nd - 1]);
    let (s_elem, s_vec) = if m >= n { (sm, sn) } else { (sn, sm) };
    let top = len.min(256).next_power_of_two() as u32;
    // The CPU's test (machine epsilon times sqrt(len)) at float32, with a little slack
    // for the rounding of float32 dot products, so converged pairs stay converged.
    let tol = 4.0 * f32::EPSILON * (len as f32).sqrt().max(1.0);
    let mut md = vec![
        batch as u32,
        k as u32,
        len as u32,
        stride as u32,
        word(x.offset() as isize)?,
        word(s_elem)?,
        word(s_vec)?,
        top,
        tol.to_bits(),
        MAX_SWEEPS,
        u32::from(m >= n),
        f32::NAN.to_bits(),
    ];
    let lead = &x.shape()[..nd - 2];
    let kept: Vec<usize> = (0..nd - 2).filter(|&d| lead[d] != 1).collect();
    md.push(kept.len() as u32);
    md.extend(kept.iter().map(|&d| lead[d] as u32));
    for &d in &kept {
        md.push(word(x.strides()[d])?);
    }
    Ok((md, [batch, k, len, stride]))
}

fn check(x: &Tensor) -> Result<()> {
    if x.dtype() != DType::F32 {
        bail!(Type, "svdvals on the GPU needs float32, got {}", x.dtype());
    }
    Ok(())
}

/// Singular values of the float32 `x` `(..., m, n)`, descending, shape `(..., min(m, n))`.
pub fn svdvals(x: &Tensor) -> Result<Tensor> {
    check(x)?;
    let ctx = context_of(&[x])?;
    let nd = x.ndim();
    let k = x.shape()[nd - 2].min(x.shape()[nd - 1]);
    let mut oshape = x.shape()[..nd - 2].to_vec();
    oshape.push(k);
    let s = empty(&oshape, DType::F32, ctx.index)?;
    if s.numel() == 0 {
        return Ok(s);
    }
    let (md, [batch, k, _, stride]) = metadata(x, false)?;
    let scratch = empty(&[batch * (k * stride + 2 * k)], DType::F32, ctx.index)?;
    let p = pipeline(&ctx, Family::Svd, "values", &[])?;
    let bufs = [buffer(&scratch)?.raw(), buffer(x)?.raw(), buffer(&s)?.raw()];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, batch as u64)?)?;
    Ok(s)
}

/// `(s, u, v)` of the float32 `x` `(..., m, n)`: shapes `(..., k)`, `(..., m, k)` and
/// `(..., n, k)` with `x = u diag(s) v^T`; a zero singular value's `u` (or `v` for a wide
/// matrix) column is left zero, as on the CPU.
pub fn svd_factors(x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    check(x)?;
    let ctx = context_of(&[x])?;
    let nd = x.ndim();
    let (m, n) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let k = m.min(n);
    let lead = &x.shape()[..nd - 2];
    let shape = |tail: &[usize]| [lead, tail].concat();
    let s = empty(&shape(&[k]), DType::F32, ctx.index)?;
    let u = empty(&shape(&[m, k]), DType::F32, ctx.index)?;
    let v = empty(&shape(&[n, k]), DType::F32, ctx.index)?;
    if s.numel() == 0 {
        return Ok((s, u, v));
    }
    let (md, [batch, k, _, stride]) = metadata(x, true)?;
    let scratch = empty(&[batch * (k * stride + 2 * k)], DType::F32, ctx.index)?;
    let p = pipeline(&ctx, Family::Svd, "factors", &[])?;
    let bufs = [buffer(&scratch)?.raw(), buffer(x)?.raw(), buffer(&s)?.raw(), buffer(&u)?.raw(), buffer(&v)?.raw()];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, batch as u64)?)?;
    Ok((s, u, v))
}
