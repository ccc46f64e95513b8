//! Advanced indexing on the GPU: gathers and assignments through an offset table (one
//! absolute storage offset per broadcast index position, built by `ops::index`), and the
//! atomic scatter-add that accumulating scatters and indexing gradients use.

use super::kernels::{aliased, buffer, context_of, word};
use super::launch::{grid, launch_windows, Window};
use super::pipelines::pipeline;
use crate::bail;
use crate::core::{DType, Error, Layout, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::gpu::shaders_rows::{element_subs, scatter_add_subs};
use crate::gpu::{check_dtype, element_size};

const WG: u64 = 256;

fn u32_of(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Value(format!("{what} of {v} exceeds the GPU's 32-bit indexing")))
}

/// `[n, nb, post, nrest, rest_shape.., rest_strides..]` (shaders/gather.wgsl).
fn gather_md(n: usize, nb: usize, rest: &Layout, insert_at: usize) -> Result<Vec<u32>> {
    let post: usize = rest.shape[insert_at..].iter().product();
    let mut md = vec![u32_of(n, "an indexing result")?, nb as u32, post as u32, rest.ndim() as u32];
    for &s in &rest.shape {
        md.push(s as u32);
    }
    for &s in &rest.strides {
        md.push(word(s)?);
    }
    Ok(md)
}

/// Runs gather.wgsl's `entry` between the indexed tensor `data` and the dense `dense`
/// (shape: rest[..insert_at] + [offs.numel()] + rest[insert_at..], from element 0 of its
/// buffer). Buffers larger than one storage binding are bound in windows, one pass per
/// pair of windows (dense positions x indexed offsets).
fn run(entry: &str, data: &Tensor, dense: &Tensor, offs: &Tensor, rest: &Layout, insert_at: usize) -> Result<()> {
    check_dtype(data.dtype(), "indexing")?;
    let n = dense.numel();
    if n == 0 {
        return Ok(());
    }
    let ctx = context_of(&[data, dense, offs])?;
    let md = gather_md(n, offs.numel(), rest, insert_at)?;
    let p = pipeline(&ctx, Family::Gather, entry, &element_subs(data.dtype()))?;
    let (db, xb, ob) = (buffer(dense)?.raw(), buffer(data)?.raw(), buffer(offs)?.raw());
    let es = element_size(data.dtype()) as u64;
    let max = ctx.limits.max_storage_buffer_binding_size;
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    // Elements per window: aligned starts, whole words.
    let step = |b: &wgpu::Buffer| if b.size() <= max { b.size() / es } else { (max - align) / align * align / es };
    let (dense_step, data_step) = (step(db), step(xb));
    let data_len = xb.size() / es;
    let mut base = 0u64;
    while base < n as u64 {
        let count = dense_step.min(n as u64 - base);
        let dense_win = window(db, base * es, count * es);
        let mut lo = 0u64;
        while lo < data_len {
            let len = data_step.min(data_len - lo);
            let mut md = md.clone();
            md[0] = count as u32;
            md.extend([base as u32, lo as u32, len as u32]);
            let data_win = window(xb, lo * es, len * es);
            let (writes, reads) =
                if entry == "gather" { (dense_win.clone(), data_win) } else { (data_win, dense_win.clone()) };
            let wins = [writes, reads, Window { buffer: ob, offset: 0, size: None }];
            launch_windows(&ctx, &p, &md, &wins, grid(&ctx, count.div_ceil(WG))?)?;
            lo += len;
        }
        base += count;
    }
    Ok(())
}

/// `bytes` bytes of `b` from `offset`, rounded up to whole words within the buffer.
fn window(b: &wgpu::Buffer, offset: u64, bytes: u64) -> Window<'_> {
    Window { buffer: b, offset, size: Some(bytes.next_multiple_of(4).min(b.size() - offset)) }
}

/// `out = data[offs + rest]`: `out` is fresh, contiguous and of `data`'s dtype; `offs`
/// is a uint32 GPU tensor of absolute element offsets into `data`'s storage.
pub fn gather(out: &Tensor, data: &Tensor, offs: &Tensor, rest: &Layout, insert_at: usize) -> Result<()> {
    run("gather", data, out, offs, rest, insert_at)
}

/// `data[offs + rest] = value`: `value` is contiguous, of `data`'s dtype, and does not
/// share `data`'s buffer.
pub fn scatter(data: &Tensor, value: &Tensor, offs: &Tensor, rest: &Layout, insert_at: usize) -> Result<()> {
    run("scatter", data, value, offs, rest, insert_at)
}

/// `out[.., index[i], ..] += src[i]` along dim `d` for every element of `index` (PyTorch's
/// scatter_add_). `index` (int32/uint32, in range) and `src` (out's dtype) are GPU tensors
/// with out's number of dims; index's shape fits both.
pub fn scatter_add(out: &Tensor, d: usize, index: &Tensor, src: &Tensor) -> Result<()> {
    if !matches!(index.dtype(), DType::I32 | DType::U32) {
        bail!(Type, "scatter_add on the GPU needs an int32 or uint32 index, got {}", index.dtype());
    }
    if src.dtype() != out.dtype() {
        bail!(Runtime, "internal: scatter_add src must have out's dtype");
    }
    crate::gpu::no_f16(out.dtype(), "scatter_add")?;
    if aliased(out, &[index, src])? {
        let own = |t: &Tensor| crate::ops::copy::contiguous_copy(t);
        return scatter_add(out, d, &own(index)?, &own(src)?);
    }
    let ctx = context_of(&[out, index, src])?;
    let n = index.numel();
    if n == 0 {
        return Ok(());
    }
    let nd = out.ndim();
    let mut md = vec![u32_of(n, "a scatter_add index")?, nd as u32, d as u32, u32_of(out.shape()[d], "a dim")?];
    for t in [out, index, src] {
        md.push(word(t.offset() as isize)?);
    }
    md.extend(index.shape().iter().map(|&s| s as u32));
    for t in [out, index, src] {
        for &s in t.strides() {
            md.push(word(s)?);
        }
    }
    let p = pipeline(&ctx, Family::ScatterAdd, "main", &scatter_add_subs(out.dtype(), index.dtype()))?;
    let (ob, ib, sb) = (buffer(out)?.raw(), buffer(index)?.raw(), buffer(src)?.raw());
    let max = ctx.limits.max_storage_buffer_binding_size;
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    let total = ob.size() / 4;
    let step = if ob.size() <= max { total } else { (max - align) / align * align / 4 };
    let mut lo = 0;
    while lo < total {
        let len = step.min(total - lo);
        let mut md = md.clone();
        md.extend([lo as u32, len as u32]);
        let wins = [
            window(ob, lo * 4, len * 4),
            Window { buffer: ib, offset: 0, size: None },
            Window { buffer: sb, offset: 0, size: None },
        ];
        launch_windows(&ctx, &p, &md, &wins, grid(&ctx, (n as u64).div_ceil(WG))?)?;
        lo += len;
    }
    Ok(())
}
