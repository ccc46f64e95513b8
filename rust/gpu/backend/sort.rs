//! Stable sort along one axis of any view (shaders/sort.wgsl): a bitonic network per
//! row over (value, index) pairs, the row padded to a power of two. Blocks of up to
//! 1,024 elements sort in workgroup memory; longer rows merge with one dispatch per
//! stage across the row plus one in-block pass per merge size.

use super::kernels::{buffer, context_of, word};
use super::launch::{grid, launch};
use super::pieces::{bindable, in_pieces, Out};
use super::pipelines::pipeline;
use super::rows::{rows_of, Rows};
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Layout, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::gpu::shaders_sort::sort_subs;

/// Elements one workgroup sorts in its memory (`BLOCK` in shaders/sort.wgsl).
const BLOCK: usize = 1024;
/// Invocations per workgroup (`WG` in shaders/common.wgsl).
const WG: usize = 256;

/// Sorted values and their source positions (int32) along axis `a` of `x`: stable,
/// NaN last (first when `descending`). Both results have `x`'s shape; they are views of
/// the padded work buffers, contiguous exactly when `a` is the last axis and the row
/// length a power of two.
pub fn sort(x: &Tensor, a: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    crate::gpu::no_f16(x.dtype(), "sort")?;
    let ctx = context_of(&[x])?;
    let shape = x.shape().to_vec();
    if x.numel() == 0 {
        return Ok((empty(&shape, x.dtype(), ctx.index)?, empty(&shape, DType::I32, ctx.index)?));
    }
    let Rows { count: rows, len: n, shape: kshape, strides: ks } = rows_of(a, &[x.layout()])?;
    let p = n.next_power_of_two();
    let total = rows.checked_mul(p).filter(|&t| u32::try_from(t).is_ok() && i32::try_from(p).is_ok());
    let Some(total) = total else {
        bail!(Value, "sort: {rows} rows of {p} (padded) elements exceed the GPU's 32-bit indexing");
    };
    if !bindable(&[x])? || total as u64 * 4 > ctx.limits.max_storage_buffer_binding_size {
        let (vals, idx) = (empty(&shape, x.dtype(), ctx.index)?, empty(&shape, DType::I32, ctx.index)?);
        let whole = [Out { full: &vals, drops_keep: false }, Out { full: &idx, drops_keep: false }];
        in_pieces(x, Some(a), &whole, &mut |piece| {
            let (v, i) = sort(piece, a, descending)?;
            Ok(vec![v, i])
        })?;
        return Ok((vals, idx));
    }
    let vals = empty(&[total], x.dtype(), ctx.index)?;
    let idx = empty(&[total], DType::I32, ctx.index)?;
    let (vb, ib, sb) = (buffer(&vals)?, buffer(&idx)?, buffer(x)?);
    let subs = sort_subs(x.dtype());
    let head = [rows as u32, n as u32, p as u32, u32::from(descending)];

    let mut md = head.to_vec();
    md.extend([kshape.len() as u32, word(x.offset() as isize)?, word(x.strides()[a])?]);
    md.extend(&kshape);
    md.extend(&ks[0]);
    let blocks = (total / p.min(BLOCK)) as u64;
    let local = pipeline(&ctx, Family::Sort, "local_sort", &subs)?;
    launch(&ctx, &local, &md, &[vb.raw(), ib.raw(), sb.raw()], grid(&ctx, blocks)?)?;

    if p > BLOCK {
        let step = pipeline(&ctx, Family::Sort, "global_step", &subs)?;
        let merge = pipeline(&ctx, Family::Sort, "local_merge", &subs)?;
        let pair_groups = grid(&ctx, (total / 2).div_ceil(WG) as u64)?;
        let block_groups = grid(&ctx, blocks)?;
        let mut k = 2 * BLOCK;
        while k <= p {
            let mut j = k / 2;
            while j >= BLOCK {
                let md: Vec<u32> = head.iter().copied().chain([k as u32, j as u32]).collect();
                launch(&ctx, &step, &md, &[vb.raw(), ib.raw()], pair_groups)?;
                j /= 2;
            }
            let md: Vec<u32> = head.iter().copied().chain([k as u32]).collect();
            launch(&ctx, &merge, &md, &[vb.raw(), ib.raw()], block_groups)?;
            k *= 2;
        }
    }

    // Row r of the work buffers holds the r-th combination (C order) of the other axes.
    let mut strides = vec![0isize; shape.len()];
    let mut acc = p as isize;
    for d in (0..shape.len()).rev().filter(|&d| d != a) {
        strides[d] = acc;
        acc *= shape[d] as isize;
    }
    strides[a] = 1;
    let layout = Layout { shape: shape.as_slice().into(), strides: strides.as_slice().into(), offset: 0 };
    Ok((vals.with_layout(layout.clone()), idx.with_layout(layout)))
}
