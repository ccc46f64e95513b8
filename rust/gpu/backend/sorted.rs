//! Kernels over sorted data (shaders/sorted.wgsl): searchsorted, and unique as sort,
//! run boundaries, a running count, then compaction. The number of unique values is
//! the one number read back (as PyTorch does): it sizes the outputs.

use super::kernels::{buffer, context_of};
use super::launch::{grid, launch};
use super::pipelines::pipeline;
use super::rows::cumulative;
use super::sort::sort;
use super::transfer::{download, empty};
use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::gpu::shaders_sort::sorted_subs;

/// Invocations per workgroup (`WG` in shaders/common.wgsl).
const WG: usize = 256;

fn count32(n: usize, what: &str) -> Result<u32> {
    match u32::try_from(n) {
        Ok(v) if v < i32::MAX as u32 => Ok(v),
        _ => bail!(Value, "{what}: {n} elements exceed the GPU's 32-bit indexing"),
    }
}

/// Insertion points (int32, shaped like `values`) of the contiguous `values` into the
/// sorted, contiguous 1-D `seq` of the same dtype; `right` puts them after equal elements.
pub fn searchsorted(seq: &Tensor, values: &Tensor, right: bool) -> Result<Tensor> {
    crate::gpu::no_f16(seq.dtype(), "searchsorted")?;
    let ctx = context_of(&[seq, values])?;
    let out = empty(values.shape(), DType::I32, ctx.index)?;
    let count = count32(values.numel(), "searchsorted")?;
    if count == 0 {
        return Ok(out);
    }
    let m = count32(seq.numel(), "searchsorted")?;
    if m == 0 {
        super::kernels::fill(&out, crate::core::Scalar::Int(0))?;
        return Ok(out);
    }
    let md = [m, count, u32::from(right)];
    let p = pipeline(&ctx, Family::Sorted, "search", &sorted_subs(seq.dtype()))?;
    // Contiguous operands: their data starts at their offset, which the binding skips to.
    let (s, v) = (contiguous_from_zero(seq)?, contiguous_from_zero(values)?);
    let bufs = [buffer(&out)?.raw(), buffer(&s)?.raw(), buffer(&v)?.raw()];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, (count as usize).div_ceil(WG) as u64)?)?;
    Ok(out)
}

/// `t` as a contiguous tensor starting at element 0 of its buffer (copied when not).
pub(super) fn contiguous_from_zero(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.offset() == 0 {
        return Ok(t.clone());
    }
    let out = empty(t.shape(), t.dtype(), buffer(t)?.ctx().index)?;
    super::kernels::copy(&out, t.layout(), t)?;
    Ok(out)
}

/// Sorted unique values of the non-empty 1-D `x` (NaNs as one value), each element's
/// run (inverse, int32, `x`'s length) and each value's count (int32).
pub fn unique(x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let ctx = context_of(&[x])?;
    let n = count32(x.numel(), "unique")?;
    let (vals, idx) = sort(x, 0, false)?;
    // A 1-D sort's results are the first n words of the work buffers.
    let subs = sorted_subs(x.dtype());
    let groups = grid(&ctx, (n as usize).div_ceil(WG) as u64)?;
    let flags = empty(&[n as usize], DType::I32, ctx.index)?;
    let p = pipeline(&ctx, Family::Sorted, "boundaries", &subs)?;
    launch(&ctx, &p, &[n], &[buffer(&flags)?.raw(), buffer(&vals)?.raw()], groups)?;
    let ids = cumulative(&flags, 0, false)?;
    let last = download(&ids.narrow(0, i64::from(n) - 1, 1)?)?;
    // SAFETY: a fresh contiguous CPU tensor of one int32.
    let runs = unsafe { *(last.data_ptr() as *const i32) } as usize;

    let uniq = empty(&[runs], x.dtype(), ctx.index)?;
    let starts = empty(&[runs], DType::I32, ctx.index)?;
    let inverse = empty(&[n as usize], DType::I32, ctx.index)?;
    let counts = empty(&[runs], DType::I32, ctx.index)?;
    let p = pipeline(&ctx, Family::Sorted, "compact", &subs)?;
    let bufs = [
        buffer(&uniq)?.raw(),
        buffer(&vals)?.raw(),
        buffer(&ids)?.raw(),
        buffer(&starts)?.raw(),
        buffer(&inverse)?.raw(),
        buffer(&idx)?.raw(),
    ];
    launch(&ctx, &p, &[n], &bufs, groups)?;
    let p = pipeline(&ctx, Family::Sorted, "counts", &subs)?;
    let md = [n, runs as u32];
    launch(&ctx, &p, &md, &[buffer(&counts)?.raw(), buffer(&starts)?.raw()], grid(&ctx, runs.div_ceil(WG) as u64)?)?;
    Ok((uniq, inverse, counts))
}
