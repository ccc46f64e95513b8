//! The GPU side of each op family: checks, metadata and one launch per kernel. Shapes and
//! strides travel in the metadata binding, so views are read in place, never copied.

use std::sync::Arc;

use super::buffers::GpuBuffer;
use super::context::Context;
use super::launch::{grid, launch, launch_windows, Window};
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Error, Layout, Result, Scalar, Tensor};
use crate::gpu::shaders::{binary_subs, copy_subs, fill_subs, reduce_subs, type_subs, unary_subs, Family};
use crate::gpu::{check_dtype, element_size, ReduceKind};
use crate::ops::table::{BinaryOp, UnaryOp};

const WG: u64 = 256;

/// The device buffer of a GPU tensor.
pub(crate) fn buffer(t: &Tensor) -> Result<&Arc<GpuBuffer>> {
    t.storage().gpu().ok_or_else(|| Error::Runtime("internal: expected a GPU tensor".into()))
}

/// The shared context of tensors that must all live on one GPU.
pub(crate) fn context_of(tensors: &[&Tensor]) -> Result<Arc<Context>> {
    let ctx = buffer(tensors[0])?.ctx().clone();
    for t in &tensors[1..] {
        if buffer(t)?.ctx().index != ctx.index {
            bail!(Runtime, "tensors on gpu:{} and {} cannot be mixed in one op", ctx.index, t.device().name());
        }
    }
    Ok(ctx)
}

/// A stride or offset as the u32 bit pattern of an i32 (see shaders/common.wgsl).
pub(super) fn word(v: isize) -> Result<u32> {
    i32::try_from(v)
        .map(|x| x as u32)
        .map_err(|_| Error::Value(format!("stride or offset {v} does not fit the GPU's 32-bit index arithmetic")))
}

/// Merges dims that every operand walks contiguously and drops size-1 dims; returns
/// (shape, strides per operand), or an empty shape when all operands are dense (the
/// shaders' fast path).
fn coalesce(shape: &[usize], strides: &[&[isize]]) -> (Vec<usize>, Vec<Vec<isize>>) {
    let mut dims: Vec<usize> = Vec::new();
    let mut st: Vec<Vec<isize>> = vec![Vec::new(); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mergeable = !dims.is_empty()
            && strides.iter().zip(&st).all(|(s, cur)| *cur.last().expect("non-empty") == s[d] * shape[d] as isize);
        if mergeable {
            *dims.last_mut().expect("non-empty") *= shape[d];
            for (cur, s) in st.iter_mut().zip(strides) {
                *cur.last_mut().expect("non-empty") = s[d];
            }
        } else {
            dims.push(shape[d]);
            for (cur, s) in st.iter_mut().zip(strides) {
                cur.push(s[d]);
            }
        }
    }
    let dense = dims.len() <= 1 && st.iter().all(|s| s.iter().all(|&x| x == 1));
    if dense {
        return (Vec::new(), vec![Vec::new(); strides.len()]);
    }
    (dims, st)
}

/// `[n, ndim, offsets.., params.., shape.., strides of each operand..]`.
fn elementwise_md(shape: &[usize], layouts: &[&Layout], params: &[u32]) -> Result<Vec<u32>> {
    let n: usize = shape.iter().product();
    let strides: Vec<&[isize]> = layouts.iter().map(|l| &l.strides[..]).collect();
    let (dims, st) = coalesce(shape, &strides);
    let mut md =
        vec![u32::try_from(n).map_err(|_| Error::Value(format!("{n} elements exceed the GPU's 32-bit indexing")))?];
    md.push(dims.len() as u32);
    for l in layouts {
        md.push(word(l.offset as isize)?);
    }
    md.extend_from_slice(params);
    md.extend(dims.iter().map(|&d| d as u32));
    for s in &st {
        for &x in s {
            md.push(word(x)?);
        }
    }
    Ok(md)
}

fn launch_elementwise(
    ctx: &Context,
    family: Family,
    entry: &str,
    subs: &[(&'static str, String)],
    md: &[u32],
    buffers: &[&wgpu::Buffer],
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    if let Some(quad_entry) = quad_entry(family, entry, md, n) {
        let p = pipeline(ctx, family, quad_entry, subs)?;
        return launch(ctx, &p, md, buffers, grid(ctx, (n as u64).div_ceil(4).div_ceil(WG))?);
    }
    let p = pipeline(ctx, family, entry, subs)?;
    launch(ctx, &p, md, buffers, grid(ctx, (n as u64).div_ceil(WG))?)
}

/// The four-elements-per-invocation twin of `entry` (`main4`, `scalar4`) for a dense
/// launch (`md[1]`, the coalesced rank, is 0) of under 2^31 elements, unless
/// `FERROGRAD_GPU_ELEMENTWISE=1` asks for one element per invocation (read at each
/// launch, so a benchmark can time both).
fn quad_entry(family: Family, entry: &str, md: &[u32], n: usize) -> Option<&'static str> {
    if md[1] != 0 || n >= 1 << 31 || std::env::var("FERROGRAD_GPU_ELEMENTWISE").is_ok_and(|v| v == "1") {
        return None;
    }
    match (family, entry) {
        (Family::Unary | Family::Binary | Family::Copy, "main") => Some("main4"),
        (Family::Binary, "scalar") => Some("scalar4"),
        _ => None,
    }
}

/// An elementwise launch over `shape` with one layout per operand (the metadata of
/// [`elementwise_md`]) and `buffers` bound in order (fewer buffers than layouts when
/// trailing layouts view an earlier buffer, as `scalar_inplace` does); `dtypes` holds
/// each operand's dtype (for its element size: float16 takes 2 bytes, others 4).
///
/// A buffer larger than the adapter's largest storage binding cannot be bound whole, so
/// the launch is split along the first (coalesced) dim into runs of rows whose elements
/// each operand reaches within one binding-sized window; each run binds those windows
/// and sees offsets relative to them.
#[allow(clippy::too_many_arguments)]
fn run_elementwise(
    ctx: &Context,
    family: Family,
    entry: &str,
    subs: &[(&'static str, String)],
    shape: &[usize],
    layouts: &[&Layout],
    dtypes: &[DType],
    params: &[u32],
    buffers: &[&wgpu::Buffer],
) -> Result<()> {
    let n: usize = shape.iter().product();
    let max_bind = ctx.limits.max_storage_buffer_binding_size;
    if n == 0 || buffers.iter().all(|b| b.size() <= max_bind) {
        let md = elementwise_md(shape, layouts, params)?;
        return launch_elementwise(ctx, family, entry, subs, &md, buffers, n);
    }
    let p = pipeline(ctx, family, entry, subs)?;
    let strides: Vec<&[isize]> = layouts.iter().map(|l| &l.strides[..]).collect();
    let (dims, st) = coalesce(shape, &strides);
    let dense = dims.is_empty();
    let (dims, st) = if dense { (vec![n], vec![vec![1isize]; layouts.len()]) } else { (dims, st) };
    let inner: usize = dims[1..].iter().product();
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    let sizes: Vec<u64> = dtypes.iter().map(|&d| element_size(d) as u64).collect();
    // Elements of the widest operand that fit one binding (narrower ones fit more).
    let cap = ((max_bind - align) / 4) as isize;
    // Per operand: the lowest and highest element offset one row (dims[1..]) reaches.
    let reach: Vec<(isize, isize)> = st
        .iter()
        .map(|s| {
            dims[1..].iter().zip(&s[1..]).fold((0, 0), |(lo, hi), (&d, &x)| {
                let e = (d as isize - 1) * x;
                (lo + e.min(0), hi + e.max(0))
            })
        })
        .collect();
    let mut rows = dims[0].min((u32::MAX as usize / inner.max(1)).max(1));
    for (s, &(lo, hi)) in st.iter().zip(&reach) {
        let room = cap - (hi - lo) - 1;
        if room < 0 {
            bail!(
                OutOfMemory,
                "a GPU op over shape {shape:?} cannot be split into pieces that fit one storage binding \
                 ({max_bind} bytes); make the operands contiguous first"
            );
        }
        if s[0] != 0 {
            rows = rows.min((room / s[0].abs()) as usize + 1);
        }
    }
    let mut r0 = 0;
    while r0 < dims[0] {
        let r = rows.min(dims[0] - r0);
        let mut md = vec![(r * inner) as u32, if dense { 0 } else { dims.len() as u32 }];
        let mut windows = Vec::with_capacity(layouts.len());
        for (k, l) in layouts.iter().enumerate() {
            let s0 = st[k][0];
            let base = l.offset as isize + r0 as isize * s0;
            let lo = (base + ((r as isize - 1) * s0).min(0) + reach[k].0) as u64;
            let hi = (base + ((r as isize - 1) * s0).max(0) + reach[k].1) as u64;
            let es = sizes[k];
            let start = lo * es / align * align;
            let buffer = buffers[k.min(buffers.len() - 1)];
            // Binding sizes are whole 4-byte words (buffers are too).
            let end = ((hi + 1) * es).next_multiple_of(4).min(buffer.size());
            md.push(word(base - (start / es) as isize)?);
            windows.push(Window { buffer, offset: start, size: Some(end - start) });
        }
        md.extend_from_slice(params);
        if !dense {
            md.push(r as u32);
            md.extend(dims[1..].iter().map(|&d| d as u32));
            for s in &st {
                for &x in s {
                    md.push(word(x)?);
                }
            }
        }
        windows.truncate(buffers.len());
        launch_windows(ctx, &p, &md, &windows, grid(ctx, ((r * inner) as u64).div_ceil(WG))?)?;
        r0 += r;
    }
    Ok(())
}

/// Whether `out` shares a buffer with one of `inputs`. WebGPU forbids binding a buffer
/// writable and read-only in one dispatch (and Dawn any overlap of writable bindings),
/// so such ops compute into a fresh tensor that is then copied into `out`: in-place
/// ops cost one extra pass for now.
pub(super) fn aliased(out: &Tensor, inputs: &[&Tensor]) -> Result<bool> {
    let o = buffer(out)?;
    for t in inputs {
        if Arc::ptr_eq(o, buffer(t)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A fresh contiguous tensor like `out` to compute into when `out` is aliased.
fn staging_for(out: &Tensor) -> Result<Tensor> {
    empty(out.shape(), out.dtype(), buffer(out)?.ctx().index)
}

/// `dst[...] = src` viewed through `src_layout` (already broadcast to dst's shape),
/// converting dtypes.
pub fn copy(dst: &Tensor, src_layout: &Layout, src: &Tensor) -> Result<()> {
    check_dtype(src.dtype(), "copy")?;
    check_dtype(dst.dtype(), "copy")?;
    if aliased(dst, &[src])? {
        let tmp = empty(dst.shape(), src.dtype(), buffer(src)?.ctx().index)?;
        copy(&tmp, src_layout, src)?;
        return copy(dst, tmp.layout(), &tmp);
    }
    let ctx = context_of(&[dst, src])?;
    let subs = copy_subs(src.dtype(), dst.dtype());
    let bufs = [buffer(dst)?.raw(), buffer(src)?.raw()];
    let (layouts, dtypes) = ([dst.layout(), src_layout], [dst.dtype(), src.dtype()]);
    run_elementwise(&ctx, Family::Copy, "main", &subs, dst.shape(), &layouts, &dtypes, &[], &bufs)
}

/// The bit pattern of `v` as a value of the GPU dtype `d`, in the type kernels compute
/// `d` in: a float16 value is rounded to float16 here (once, from v's full precision, as
/// the CPU does) and travels as the f32 that holds it exactly.
fn bits(v: Scalar, d: DType) -> u32 {
    match d {
        DType::F32 => v.cast::<f32>().to_bits(),
        DType::F16 => f32::from(v.cast::<half::f16>()).to_bits(),
        DType::I32 => v.cast::<i32>() as u32,
        DType::Bool => u32::from(v.cast::<bool>()),
        _ => v.cast::<u32>(),
    }
}

pub fn fill(dst: &Tensor, value: Scalar) -> Result<()> {
    let ctx = context_of(&[dst])?;
    let params = [bits(value, dst.dtype()), 0];
    let subs = fill_subs(dst.dtype());
    let (layouts, dtypes) = ([dst.layout()], [dst.dtype()]);
    run_elementwise(&ctx, Family::Fill, "fill", &subs, dst.shape(), &layouts, &dtypes, &params, &[buffer(dst)?.raw()])
}

/// `start + i * step` for i in 0..n, as `dtype`, on adapter `index`.
pub fn arange(start: Scalar, step: Scalar, n: usize, dtype: DType, index: u32) -> Result<Tensor> {
    if dtype == DType::Bool {
        bail!(Type, "arange cannot produce bool values");
    }
    let out = empty(&[n], dtype, index)?;
    let ctx = context_of(&[&out])?;
    // float16 values are computed in f32 from the unrounded start and step (the CPU
    // computes them in float64), then rounded once.
    let params = if dtype == DType::F16 {
        [start.cast::<f32>().to_bits(), step.cast::<f32>().to_bits()]
    } else {
        [bits(start, dtype), bits(step, dtype)]
    };
    run_elementwise(
        &ctx,
        Family::Fill,
        "arange",
        &fill_subs(dtype),
        &[n],
        &[out.layout()],
        &[dtype],
        &params,
        &[buffer(&out)?.raw()],
    )?;
    Ok(out)
}

pub fn unary(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<()> {
    if aliased(out, &[x])? {
        let tmp = staging_for(out)?;
        unary(op, &tmp, x)?;
        return copy(out, tmp.layout(), &tmp);
    }
    let ctx = context_of(&[out, x])?;
    let Some(subs) = unary_subs(op, x.dtype(), out.dtype()) else {
        bail!(Runtime, "{} is not implemented on the GPU for {} tensors yet", op.name(), x.dtype());
    };
    let bufs = [buffer(out)?.raw(), buffer(x)?.raw()];
    let (layouts, dtypes) = ([out.layout(), x.layout()], [out.dtype(), x.dtype()]);
    run_elementwise(&ctx, Family::Unary, "main", &subs, x.shape(), &layouts, &dtypes, &[], &bufs)
}

/// `out = op(a, b)` with `la`/`lb` the operands' layouts broadcast to `out`'s shape.
pub fn binary(op: BinaryOp, out: &Tensor, a: &Tensor, la: &Layout, b: &Tensor, lb: &Layout) -> Result<()> {
    if aliased(out, &[a, b])? {
        let tmp = staging_for(out)?;
        binary(op, &tmp, a, la, b, lb)?;
        return copy(out, tmp.layout(), &tmp);
    }
    let ctx = context_of(&[out, a, b])?;
    let Some(subs) = binary_subs(op, a.dtype(), out.dtype()) else {
        bail!(Runtime, "{} is not implemented on the GPU for {} tensors yet", op.name(), a.dtype());
    };
    let bufs = [buffer(out)?.raw(), buffer(a)?.raw(), buffer(b)?.raw()];
    let (layouts, dtypes) = ([out.layout(), la, lb], [out.dtype(), a.dtype(), b.dtype()]);
    run_elementwise(&ctx, Family::Binary, "main", &subs, out.shape(), &layouts, &dtypes, &[], &bufs)
}

/// `out = op(a, value)`, or `op(value, a)` when `scalar_first`, with `value` (already of
/// `a`'s dtype) in the metadata. Writing over `a` itself through the same view runs the
/// `scalar_inplace` entry, which binds the buffer once (read-modify-write), so `x += 1`
/// is one pass with no staging copy.
pub fn binary_scalar(
    op: BinaryOp,
    out: &Tensor,
    a: &Tensor,
    la: &Layout,
    value: Scalar,
    scalar_first: bool,
) -> Result<()> {
    let ctx = context_of(&[out, a])?;
    let Some(subs) = binary_subs(op, a.dtype(), out.dtype()) else {
        bail!(Runtime, "{} is not implemented on the GPU for {} tensors yet", op.name(), a.dtype());
    };
    let params = [bits(value, a.dtype()), u32::from(scalar_first)];
    let dtypes = [out.dtype(), a.dtype()];
    if aliased(out, &[a])? {
        if la == out.layout() && a.dtype() == out.dtype() {
            let (shape, layouts, bufs) = (out.shape(), [out.layout(), la], [buffer(out)?.raw()]);
            let entry = "scalar_inplace";
            return run_elementwise(&ctx, Family::Binary, entry, &subs, shape, &layouts, &dtypes, &params, &bufs);
        }
        let tmp = staging_for(out)?;
        binary_scalar(op, &tmp, a, la, value, scalar_first)?;
        return copy(out, tmp.layout(), &tmp);
    }
    let bufs = [buffer(out)?.raw(), buffer(a)?.raw()];
    let layouts = [out.layout(), la];
    run_elementwise(&ctx, Family::Binary, "scalar", &subs, out.shape(), &layouts, &dtypes, &params, &bufs)
}

/// `out = where(cond, a, b)`, each operand's layout broadcast to `out`'s shape; `cond`
/// is bool and `a`, `b` have `out`'s dtype.
pub fn select(
    out: &Tensor,
    cond: &Tensor,
    lc: &Layout,
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
) -> Result<()> {
    if aliased(out, &[cond, a, b])? {
        let tmp = staging_for(out)?;
        select(&tmp, cond, lc, a, la, b, lb)?;
        return copy(out, tmp.layout(), &tmp);
    }
    let ctx = context_of(&[out, cond, a, b])?;
    let bufs = [buffer(out)?.raw(), buffer(cond)?.raw(), buffer(a)?.raw(), buffer(b)?.raw()];
    let layouts = [out.layout(), lc, la, lb];
    let dtypes = [out.dtype(), cond.dtype(), a.dtype(), b.dtype()];
    let subs = type_subs(out.dtype());
    run_elementwise(&ctx, Family::Select, "main", &subs, out.shape(), &layouts, &dtypes, &[], &bufs)
}

/// Rows shorter than this are reduced by one workgroup each.
const CHUNK: usize = 4096;
/// Rows up to this long, when there are at least a workgroup's worth of them, are
/// reduced an invocation per row (shaders/reduce.wgsl `short_rows`).
const SHORT_ROW: usize = 64;

/// The lowest and highest element offsets a layout reaches.
fn reach(l: &Layout) -> (usize, usize) {
    let (mut lo, mut hi) = (l.offset as isize, l.offset as isize);
    for (&d, &s) in l.shape.iter().zip(&l.strides) {
        let e = (d.max(1) as isize - 1) * s;
        lo += e.min(0);
        hi += e.max(0);
    }
    (lo as usize, hi as usize)
}

/// Reduces `x` over `axes`, keeping them as size-1 dims. `x` is non-empty.
///
/// The input is bound as the window of its buffer that it reaches, so a view into a
/// buffer larger than one storage binding works when the view itself fits one; a bigger
/// input is reduced in pieces along its outermost dim and the pieces' results combined.
pub fn reduce(kind: ReduceKind, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    if x.dtype() == DType::F16 && matches!(kind, ReduceKind::Sum | ReduceKind::Prod) {
        // Accumulated in float32 and rounded once, as the CPU sums float16 (max/min
        // are exact in float16 itself).
        let wide = empty(x.shape(), DType::F32, buffer(x)?.ctx().index)?;
        copy(&wide, x.layout(), x)?;
        let r = reduce(kind, &wide, axes)?;
        let out = empty(r.shape(), DType::F16, buffer(x)?.ctx().index)?;
        copy(&out, r.layout(), &r)?;
        return Ok(out);
    }
    let ctx = context_of(&[x])?;
    let max_bind = ctx.limits.max_storage_buffer_binding_size;
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    let (lo, hi) = reach(x.layout());
    if buffer(x)?.raw().size() > max_bind && ((hi - lo + 1) * 4) as u64 + align > max_bind {
        return reduce_in_pieces(kind, x, axes, ((max_bind - align) / 4) as usize);
    }
    reduce_window(&ctx, kind, x, axes)
}

/// [`reduce`] of an input too large for one binding: split along the dim with the
/// largest stride into pieces that fit, reduce each, then combine the partial results
/// (when that dim is reduced) or place them side by side (when it is kept).
fn reduce_in_pieces(kind: ReduceKind, x: &Tensor, axes: &[usize], cap: usize) -> Result<Tensor> {
    let l = x.layout();
    let d = (0..x.ndim()).filter(|&d| l.shape[d] > 1).max_by_key(|&d| l.strides[d].unsigned_abs()).unwrap_or(0);
    let rest = {
        let mut r = l.clone();
        r.shape[d] = 1;
        let (lo, hi) = reach(&r);
        hi - lo + 1
    };
    let stride = l.strides[d].unsigned_abs().max(1);
    if rest > cap {
        bail!(
            OutOfMemory,
            "reduction over shape {:?}: one slice along its outermost dim exceeds a storage binding; make it contiguous first",
            x.shape()
        );
    }
    let len = ((cap - rest) / stride + 1).min(l.shape[d]);
    let mut out_shape = x.shape().to_vec();
    for &a in axes {
        out_shape[a] = 1;
    }
    let index = buffer(x)?.ctx().index;
    let reduced = axes.contains(&d);
    let out = if reduced { None } else { Some(empty(&out_shape, x.dtype(), index)?) };
    let mut acc: Option<Tensor> = None;
    let mut start = 0;
    while start < l.shape[d] {
        let n = len.min(l.shape[d] - start);
        let part = reduce(kind, &x.with_layout(l.narrow(d as i64, start as i64, n)?), axes)?;
        match &out {
            Some(o) => copy(&o.with_layout(o.layout().narrow(d as i64, start as i64, n)?), part.layout(), &part)?,
            None => {
                acc = Some(match acc {
                    None => part,
                    Some(a) => {
                        let op = match kind {
                            ReduceKind::Sum => BinaryOp::Add,
                            ReduceKind::Prod => BinaryOp::Mul,
                            ReduceKind::Max => BinaryOp::Maximum,
                            ReduceKind::Min => BinaryOp::Minimum,
                        };
                        let sum = empty(a.shape(), a.dtype(), index)?;
                        binary(op, &sum, &a, a.layout(), &part, part.layout())?;
                        sum
                    }
                })
            }
        }
        start += n;
    }
    Ok(out.or(acc).expect("at least one piece"))
}

fn reduce_window(ctx: &Arc<Context>, kind: ReduceKind, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let index = ctx.index;
    let l = x.layout();
    let kept: Vec<usize> = (0..x.ndim()).filter(|d| !axes.contains(d)).collect();
    let pick = |dims: &[usize]| -> (Vec<usize>, Vec<isize>) {
        dims.iter().filter(|&&d| l.shape[d] != 1).map(|&d| (l.shape[d], l.strides[d])).unzip()
    };
    let (kshape, kstrides) = pick(&kept);
    let (rshape, rstrides) = pick(axes);
    let rows: usize = kshape.iter().product();
    let row_len: usize = rshape.iter().product();
    // Few long rows: split each into chunks so that enough workgroups run, then reduce
    // the partial results in a second launch.
    let chunks = if rows >= 256 || row_len <= CHUNK { 1 } else { row_len.div_ceil(CHUNK).min(1024) };
    let chunk_len = row_len.div_ceil(chunks);
    let chunks = row_len.div_ceil(chunk_len);
    let subs = reduce_subs(kind, x.dtype());
    // Many short rows: an invocation per row instead of a workgroup per row.
    let short = rows >= WG as usize && row_len <= SHORT_ROW;
    let p = pipeline(ctx, Family::Reduce, if short { "short_rows" } else { "main" }, &subs)?;
    let mut out_shape = x.shape().to_vec();
    for &a in axes {
        out_shape[a] = 1;
    }
    let out = empty(&[rows], x.dtype(), index)?;
    let first = if chunks == 1 { out.clone() } else { empty(&[rows * chunks], x.dtype(), index)? };
    // Bind only the part of x's buffer the view reaches (see `reduce`).
    let src = buffer(x)?.raw();
    let (lo, hi) = reach(l);
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    let (start, end) = if src.size() > ctx.limits.max_storage_buffer_binding_size {
        (lo as u64 * 4 / align * align, ((hi as u64 + 1) * 4).min(src.size()))
    } else {
        (0, src.size())
    };
    let offset = l.offset - (start / 4) as usize;
    let md = reduce_md(rows, row_len, chunks, chunk_len, offset, &kshape, &kstrides, &rshape, &rstrides)?;
    let windows = [
        Window { buffer: buffer(&first)?.raw(), offset: 0, size: None },
        Window { buffer: src, offset: start, size: Some(end - start) },
    ];
    let groups = if short { rows.div_ceil(WG as usize) } else { rows * chunks };
    launch_windows(ctx, &p, &md, &windows, grid(ctx, groups as u64)?)?;
    if chunks > 1 {
        let md = reduce_md(rows, chunks, 1, chunks, 0, &[rows], &[chunks as isize], &[chunks], &[1])?;
        launch(ctx, &p, &md, &[buffer(&out)?.raw(), buffer(&first)?.raw()], grid(ctx, rows as u64)?)?;
    }
    Ok(out.with_layout(Layout::contiguous(&out_shape)?))
}

#[allow(clippy::too_many_arguments)]
fn reduce_md(
    rows: usize,
    row_len: usize,
    chunks: usize,
    chunk_len: usize,
    offset: usize,
    kshape: &[usize],
    kstrides: &[isize],
    rshape: &[usize],
    rstrides: &[isize],
) -> Result<Vec<u32>> {
    let mut md = vec![rows as u32, row_len as u32, chunks as u32, chunk_len as u32];
    md.extend([kshape.len() as u32, rshape.len() as u32, word(offset as isize)?]);
    md.extend(kshape.iter().map(|&d| d as u32));
    for &s in kstrides {
        md.push(word(s)?);
    }
    md.extend(rshape.iter().map(|&d| d as u32));
    for &s in rstrides {
        md.push(word(s)?);
    }
    Ok(md)
}

/// Output tile edges of the matmul kernels (shaders/matmul.wgsl): `main` and `wide`.
const TILE: usize = 64;
const WIDE_TILE: usize = 128;

/// Which matmul kernel computes an `m x n` product (times `nbatch`): `wide`'s 128x128
/// tiles do twice the arithmetic per workgroup-memory read, but a quarter as many
/// workgroups; below 16 of them (512x512) the GPU would sit mostly idle, so smaller
/// products take `main`'s 64x64 tiles. On an H100, `wide` was 3.7x faster than `main`
/// at 1024x1024 (64 workgroups), so the cut sits low. `FERROGRAD_GPU_MATMUL=main|wide` forces one (for
/// benchmarks/gpu.py's comparison); it is read per call, which costs nothing next to a
/// dispatch.
fn matmul_variant(m: usize, n: usize, nbatch: usize) -> (&'static str, usize) {
    let forced = std::env::var("FERROGRAD_GPU_MATMUL").unwrap_or_default();
    let wide_groups = m.div_ceil(WIDE_TILE) * n.div_ceil(WIDE_TILE) * nbatch;
    match forced.as_str() {
        "wide" => ("wide", WIDE_TILE),
        "main" => ("main", TILE),
        _ if wide_groups >= 16 => ("wide", WIDE_TILE),
        _ => ("main", TILE),
    }
}

/// `out[b] = a[b] @ b[b]` for every batch index; `la`/`lb` are the operands' layouts
/// broadcast to `batch + [m, k]` and `batch + [k, n]`; `out` is fresh and contiguous.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    out: &Tensor,
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    m: usize,
    n: usize,
    k: usize,
) -> Result<()> {
    let ctx = context_of(&[out, a, b])?;
    if !matches!(a.dtype(), DType::F32 | DType::I32 | DType::U32) {
        bail!(Runtime, "matmul is not implemented on the GPU for {} tensors", a.dtype());
    }
    let bd = la.ndim() - 2;
    let batch = &la.shape[..bd];
    let nbatch: usize = batch.iter().product();
    if out.numel() == 0 {
        return Ok(());
    }
    if !super::pieces::bindable(&[out, a, b])? {
        return matmul_in_pieces(out, a, la, b, lb, m, n, k);
    }
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    if nbatch > max {
        bail!(Value, "matmul: {nbatch} batched products exceed the GPU grid ({max}); reshape into fewer batches");
    }
    let mut md = vec![m as u32, n as u32, k as u32, bd as u32];
    for l in [la, lb] {
        md.push(word(l.offset as isize)?);
        md.push(word(l.strides[bd])?);
        md.push(word(l.strides[bd + 1])?);
    }
    md.extend(batch.iter().map(|&d| d as u32));
    for l in [la, lb] {
        for &s in &l.strides[..bd] {
            md.push(word(s)?);
        }
    }
    let (entry, tile) = matmul_variant(m, n, nbatch);
    let p = pipeline(&ctx, Family::Matmul, entry, &type_subs(a.dtype()))?;
    let groups = [n.div_ceil(tile) as u32, m.div_ceil(tile) as u32, nbatch as u32];
    if groups[0] as usize > max || groups[1] as usize > max {
        bail!(Value, "matmul: a {m}x{n} result exceeds the GPU grid");
    }
    launch(&ctx, &p, &md, &[buffer(out)?.raw(), buffer(a)?.raw(), buffer(b)?.raw()], groups)
}

/// [`matmul`] with an operand larger than one storage binding: each batched product is
/// cut into blocks of rows of `a` and columns of `b` that fit a quarter of a binding;
/// each block's operands are copied into fresh tensors (the copy kernel windows the big
/// buffers), multiplied, and the product copied into its block of `out`.
#[allow(clippy::too_many_arguments)]
fn matmul_in_pieces(
    out: &Tensor,
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    m: usize,
    n: usize,
    k: usize,
) -> Result<()> {
    let limit = (buffer(out)?.ctx().limits.max_storage_buffer_binding_size / 16) as usize;
    if 4 * k > limit {
        bail!(OutOfMemory, "matmul: a row of {k} values is more than a storage binding's pieces hold ({limit} bytes)");
    }
    let rows = (limit / (4 * k)).min(limit / 4).max(1).min(m);
    let cols = (limit / (4 * k)).min(limit / (4 * rows)).max(1).min(n);
    let bd = la.ndim() - 2;
    let nbatch: usize = la.shape[..bd].iter().product();
    let lo = out.layout();
    // (shape, strides, offset) of matrix `i` of a batched layout, as a 2-D layout.
    let matrix = |l: &Layout, i: usize| -> Layout {
        let mut offset = l.offset as isize;
        let mut rem = i;
        for d in (0..bd).rev() {
            offset += (rem % l.shape[d]) as isize * l.strides[d];
            rem /= l.shape[d];
        }
        let (r, c) = (l.shape[bd], l.shape[bd + 1]);
        Layout { shape: [r, c][..].into(), strides: l.strides[bd..].into(), offset: offset as usize }
    };
    let block = |l: &Layout, r0: usize, r: usize, c0: usize, c: usize| -> Layout {
        let offset = l.offset as isize + r0 as isize * l.strides[0] + c0 as isize * l.strides[1];
        Layout { shape: [r, c][..].into(), strides: l.strides.clone(), offset: offset as usize }
    };
    for i in 0..nbatch {
        let (ma, mb, mo) = (matrix(la, i), matrix(lb, i), matrix(lo, i));
        for r0 in (0..m).step_by(rows) {
            let r = rows.min(m - r0);
            let ap = crate::ops::copy::contiguous_copy(&a.with_layout(block(&ma, r0, r, 0, k)))?;
            for c0 in (0..n).step_by(cols) {
                let c = cols.min(n - c0);
                let bp = crate::ops::copy::contiguous_copy(&b.with_layout(block(&mb, 0, k, c0, c)))?;
                let op = empty(&[r, c], out.dtype(), buffer(out)?.ctx().index)?;
                matmul(&op, &ap, ap.layout(), &bp, bp.layout(), r, c, k)?;
                crate::ops::copy::assign(&out.with_layout(block(&mo, r0, r, c0, c)), &op)?;
            }
        }
    }
    Ok(())
}
