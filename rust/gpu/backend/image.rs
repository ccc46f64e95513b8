//! The GPU side of the image ops (shaders/conv.wgsl, pool.wgsl, pool_max.wgsl,
//! pad.wgsl). Convolutions are unfold (im2col) + the batched matmul kernel, and their
//! input gradient a matmul + fold; every backward pass is a gather, so results are
//! deterministic. Operands arrive contiguous (any offset) from `rust/ops/`, which has
//! already checked shapes and parameters; 1-D/2-D geometry is padded to three axes.

use super::context::Context;
use super::kernels::{self, buffer, context_of, word};
use super::launch::{grid, launch};
use super::pieces::{by_planes, too_big};
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Error, Layout, Result, Tensor};
use crate::cpu::conv::Geom;
use crate::cpu::pool::{Divisor, Win};
use crate::gpu::shaders::{pool_max_subs, Family};
use crate::ops::table::BinaryOp;

const WG: u64 = 256;

/// A size or index as a metadata word.
fn w32(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Value(format!("{v} exceeds the GPU's 32-bit index arithmetic")))
}

fn run(ctx: &Context, family: Family, entry: &str, md: &[u32], bufs: &[&wgpu::Buffer], count: usize) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let subs: &[(&'static str, String)] = &[];
    let p = pipeline(ctx, family, entry, subs)?;
    launch(ctx, &p, md, bufs, grid(ctx, (count as u64).div_ceil(WG))?)
}

fn layout(shape: &[usize], strides: &[usize], offset: usize) -> Layout {
    Layout { shape: shape.iter().copied().collect(), strides: strides.iter().map(|&s| s as isize).collect(), offset }
}

// ---- convolution -------------------------------------------------------------------------

/// Sizes of one convolution's matrices: taps per channel, output positions, channels
/// per group in and out.
struct Mats {
    k: usize,
    l: usize,
    cg: usize,
    cog: usize,
    in_vol: usize,
}

fn mats(g: &Geom) -> Mats {
    Mats {
        k: g.kernel.iter().product(),
        l: g.out.iter().product(),
        cg: g.c_in / g.groups,
        cog: g.c_out / g.groups,
        in_vol: g.c_in * g.input.iter().product::<usize>(),
    }
}

/// How many images share one column matrix: as many as fit a storage binding (and at
/// most 2^26 values, 256 MiB, to bound the extra memory), one at least.
/// `FERROGRAD_GPU_CONV_COLS` lowers the cap (values), so tests reach the chunked path.
fn batch_chunk(ctx: &Context, what: &str, g: &Geom, m: &Mats) -> Result<usize> {
    let per = g.c_in * m.k * m.l;
    let knob = std::env::var("FERROGRAD_GPU_CONV_COLS").ok().and_then(|v| v.parse::<u64>().ok());
    let cap = (ctx.limits.max_storage_buffer_binding_size / 4).min(knob.unwrap_or(1 << 26)) as usize;
    if per > cap {
        bail!(
            Value,
            "{what}: one image's column matrix ({} x {} values) exceeds the GPU's buffer limit; use a smaller \
             input or kernel",
            g.c_in * m.k,
            m.l
        );
    }
    let grid_max = ctx.limits.max_compute_workgroups_per_dimension as usize / g.groups;
    Ok((cap / per).min(grid_max).clamp(1, g.n.max(1)))
}

/// md of the unfold/fold kernels (layout in shaders/conv.wgsl).
fn conv_md(g: &Geom, count: usize, nb: usize, image_offset: usize, cols: [usize; 4]) -> Result<Vec<u32>> {
    let mut md = vec![w32(count)?, w32(nb)?, w32(g.c_in)?];
    for v in [g.input, g.out, g.kernel, g.stride, g.pad, g.dil] {
        for x in v {
            md.push(w32(x)?);
        }
    }
    md.push(word(image_offset as isize)?);
    md.push(0);
    for s in cols {
        md.push(w32(s)?);
    }
    Ok(md)
}

/// Column strides of (n, c, k, l) for the layout [nb, C_in * K, L] (forward, input grad).
fn cols_by_image(g: &Geom, m: &Mats) -> [usize; 4] {
    [g.c_in * m.k * m.l, m.k * m.l, m.l, 1]
}

fn unfold(ctx: &Context, g: &Geom, x: &Tensor, n0: usize, nb: usize, cols: &Tensor, st: [usize; 4]) -> Result<()> {
    let m = mats(g);
    let count = nb * g.c_in * m.k * m.l;
    let md = conv_md(g, count, nb, x.offset() + n0 * m.in_vol, st)?;
    run(ctx, Family::Conv, "unfold", &md, &[buffer(cols)?.raw(), buffer(x)?.raw()], count)
}

/// `out = conv(x, w)` for contiguous float32 `x` (N, C_in, *input) and `w` (C_out,
/// C_in/groups, *kernel); the result is (N, C_out, L) with L the output positions.
pub fn conv(g: &Geom, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let ctx = context_of(&[x, w])?;
    let m = mats(g);
    let out = empty(&[g.n, g.c_out, m.l], DType::F32, ctx.index)?;
    if too_big(&[x, w], &[out.numel()])? {
        by_planes(g.n, &[x], &[&out], &mut |p, n| Ok(vec![conv(&Geom { n, ..*g }, &p[0], w)?]))?;
        return Ok(out);
    }
    let chunk = batch_chunk(&ctx, "conv", g, &m)?;
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        let cols = empty(&[nb, g.groups, m.cg * m.k, m.l], DType::F32, ctx.index)?;
        unfold(&ctx, g, x, n0, nb, &cols, cols_by_image(g, &m))?;
        // The weights of each group, the same for every image (batch stride 0).
        let gk = m.cg * m.k;
        let lw = layout(&[nb, g.groups, m.cog, gk], &[0, m.cog * gk, gk, 1], w.offset());
        let dst = if nb == g.n { out.clone() } else { empty(&[nb, g.c_out, m.l], DType::F32, ctx.index)? };
        kernels::matmul(&dst, w, &lw, &cols, cols.layout(), m.cog, m.l, gk)?;
        if nb != g.n {
            kernels::copy(&out.narrow(0, n0 as i64, nb)?, dst.layout(), &dst)?;
        }
    }
    Ok(out)
}

/// The input gradient of `conv(., w)` for contiguous float32 `gy` (N, C_out, *out):
/// per image and group `W^T @ gy`, folded back onto the input grid. Also the forward
/// pass of the transposed convolution (whose geometry has `out` = its input's extent).
pub fn conv_backward_input(g: &Geom, gy: &Tensor, w: &Tensor) -> Result<Tensor> {
    let ctx = context_of(&[gy, w])?;
    let m = mats(g);
    let dx = empty(&[g.n, m.in_vol], DType::F32, ctx.index)?;
    if too_big(&[gy, w], &[dx.numel()])? {
        by_planes(g.n, &[gy], &[&dx], &mut |p, n| Ok(vec![conv_backward_input(&Geom { n, ..*g }, &p[0], w)?]))?;
        return Ok(dx);
    }
    let chunk = batch_chunk(&ctx, "conv backward", g, &m)?;
    let gk = m.cg * m.k;
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        let dcols = empty(&[nb, g.groups, gk, m.l], DType::F32, ctx.index)?;
        let lw = layout(&[nb, g.groups, gk, m.cog], &[0, m.cog * gk, 1, gk], w.offset());
        let lg = layout(
            &[nb, g.groups, m.cog, m.l],
            &[g.c_out * m.l, m.cog * m.l, m.l, 1],
            gy.offset() + n0 * g.c_out * m.l,
        );
        kernels::matmul(&dcols, w, &lw, gy, &lg, gk, m.l, m.cog)?;
        let count = nb * m.in_vol;
        let md = conv_md(g, count, nb, n0 * m.in_vol, cols_by_image(g, &m))?;
        run(&ctx, Family::Conv, "fold", &md, &[buffer(&dx)?.raw(), buffer(&dcols)?.raw()], count)?;
    }
    Ok(dx)
}

/// The weight gradient of `conv(x, .)` for contiguous float32 `gy` and `x`: per group
/// `gy @ cols^T` with the images of a chunk side by side along the product's inner
/// dim, chunks summed. Returns (C_out, C_in/groups * K).
pub fn conv_backward_weight(g: &Geom, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let ctx = context_of(&[gy, x])?;
    let m = mats(g);
    let gk = m.cg * m.k;
    let gw = empty(&[g.c_out, gk], DType::F32, ctx.index)?;
    if g.n == 0 {
        kernels::fill(&gw, crate::core::Scalar::Float(0.0))?;
        return Ok(gw);
    }
    if too_big(&[gy, x], &[gw.numel()])? {
        // Pieces of images; their weight gradients add up.
        kernels::fill(&gw, crate::core::Scalar::Float(0.0))?;
        by_planes(g.n, &[gy, x], &[], &mut |p, n| {
            let part = conv_backward_weight(&Geom { n, ..*g }, &p[0], &p[1])?;
            kernels::binary(BinaryOp::Add, &gw, &gw, gw.layout(), &part, part.layout())?;
            Ok(Vec::new())
        })?;
        return Ok(gw);
    }
    let chunk = batch_chunk(&ctx, "conv backward", g, &m)?;
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        let inner = nb * m.l;
        // Columns as [groups, C_in/groups * K, nb * L]: image n's positions at n * L.
        let cols = empty(&[g.c_in * m.k, inner], DType::F32, ctx.index)?;
        unfold(&ctx, g, x, n0, nb, &cols, [m.l, m.k * inner, inner, 1])?;
        // gy's chunk as [C_out, nb * L] (a copy unless a single image).
        let at = gy.offset() + n0 * g.c_out * m.l;
        let (src, off) = if nb == 1 {
            (gy.clone(), at)
        } else {
            let gp = empty(&[g.c_out, nb, m.l], DType::F32, ctx.index)?;
            kernels::copy(&gp, &layout(&[g.c_out, nb, m.l], &[m.l, g.c_out * m.l, 1], at), gy)?;
            (gp, 0)
        };
        let la = layout(&[g.groups, m.cog, inner], &[m.cog * inner, inner, 1], off);
        let lb = layout(&[g.groups, inner, gk], &[gk * inner, 1, inner], 0);
        let part = if n0 == 0 { gw.clone() } else { empty(&[g.c_out, gk], DType::F32, ctx.index)? };
        kernels::matmul(&part, &src, &la, &cols, &lb, m.cog, gk, inner)?;
        if n0 > 0 {
            kernels::binary(BinaryOp::Add, &gw, &gw, gw.layout(), &part, part.layout())?;
        }
    }
    Ok(gw)
}

// ---- pooling -----------------------------------------------------------------------------

const POOL_HEADER: usize = 17;

/// md of the pool kernels (layout in shaders/pool.wgsl): window tables when known, and
/// for each input position the range of outputs whose windows may contain it (all of
/// them without tables).
fn pool_md(
    count: usize,
    input: [usize; 3],
    out: [usize; 3],
    offsets: [usize; 2],
    div: Divisor,
    wins: Option<[&[Win]; 3]>,
) -> Result<Vec<u32>> {
    let mut md = vec![0u32; POOL_HEADER];
    md[0] = w32(count)?;
    for a in 0..3 {
        md[1 + a] = w32(input[a])?;
        md[4 + a] = w32(out[a])?;
    }
    md[7] = word(offsets[0] as isize)?;
    md[8] = word(offsets[1] as isize)?;
    (md[9], md[10]) = match div {
        Divisor::Fixed(v) => (0, (v as f32).to_bits()),
        Divisor::Extent => (1, 0),
        Divisor::Count => (2, 0),
    };
    if let Some(wins) = wins {
        for (a, table) in wins.iter().enumerate() {
            md[11 + a] = w32(md.len())?;
            for wi in table.iter() {
                md.extend([w32(wi.first)?, w32(wi.n)?, w32(wi.step)?, w32(wi.extent)?]);
            }
        }
    }
    for a in 0..3 {
        md[14 + a] = w32(md.len())?;
        let mut ranges = vec![(u32::MAX, 0u32); input[a]];
        match wins {
            Some(wins) => {
                for (o, wi) in wins[a].iter().enumerate() {
                    for j in 0..wi.n {
                        let r = &mut ranges[wi.first + j * wi.step];
                        *r = (r.0.min(o as u32), r.1.max(o as u32 + 1));
                    }
                }
            }
            None => ranges.fill((0, w32(out[a])?)),
        }
        for (lo, hi) in ranges {
            md.extend(if lo > hi { [0, 0] } else { [lo, hi] });
        }
    }
    Ok(md)
}

fn sizes(wins: [&[Win]; 3]) -> [usize; 3] {
    [wins[0].len(), wins[1].len(), wins[2].len()]
}

fn planes(numel: usize, plane: usize) -> usize {
    numel.checked_div(plane).unwrap_or(0)
}

/// Max pooling of contiguous `x` (B planes of `input`) over the windows `wins`: values
/// in x's dtype and int32 indices (flat within the input plane), both of `out_shape`.
pub fn max_pool(x: &Tensor, input: [usize; 3], wins: [&[Win]; 3], out_shape: &[usize]) -> Result<(Tensor, Tensor)> {
    let ctx = context_of(&[x])?;
    if !matches!(x.dtype(), DType::F32 | DType::I32 | DType::U32) {
        bail!(Type, "max_pool: {} tensors are not supported on the GPU", x.dtype());
    }
    let out = empty(out_shape, x.dtype(), ctx.index)?;
    let idx = empty(out_shape, DType::I32, ctx.index)?;
    let count = out.numel();
    if count == 0 {
        return Ok((out, idx));
    }
    if too_big(&[x], &[count])? {
        let planes = planes(count, sizes(wins).iter().product());
        by_planes(planes, &[x], &[&out, &idx], &mut |p, n| {
            let (v, i) = max_pool(&p[0], input, wins, &[n, count / planes])?;
            Ok(vec![v, i])
        })?;
        return Ok((out, idx));
    }
    let mut md = pool_md(count, input, sizes(wins), [x.offset(), 0], Divisor::Count, Some(wins))?;
    // The start value, the lowest of the dtype (-inf for floats), in the divisor's slot.
    md[10] = match x.dtype() {
        DType::F32 => f32::NEG_INFINITY.to_bits(),
        DType::I32 => i32::MIN as u32,
        _ => 0,
    };
    let p = pipeline(&ctx, Family::PoolMax, "main", &pool_max_subs(x.dtype()))?;
    let bufs = [buffer(&out)?.raw(), buffer(&idx)?.raw(), buffer(x)?.raw()];
    launch(&ctx, &p, &md, &bufs, grid(&ctx, (count as u64).div_ceil(WG))?)?;
    Ok((out, idx))
}

/// Average pooling of contiguous float32 `x` (B planes of `input`).
pub fn avg_pool(x: &Tensor, input: [usize; 3], wins: [&[Win]; 3], div: Divisor, out_shape: &[usize]) -> Result<Tensor> {
    let ctx = context_of(&[x])?;
    let out = empty(out_shape, DType::F32, ctx.index)?;
    if out.numel() > 0 && too_big(&[x], &[out.numel()])? {
        let planes = planes(out.numel(), sizes(wins).iter().product());
        let per = out.numel() / planes;
        by_planes(planes, &[x], &[&out], &mut |p, n| Ok(vec![avg_pool(&p[0], input, wins, div, &[n, per])?]))?;
        return Ok(out);
    }
    let md = pool_md(out.numel(), input, sizes(wins), [x.offset(), 0], div, Some(wins))?;
    run(&ctx, Family::Pool, "avg_forward", &md, &[buffer(&out)?.raw(), buffer(x)?.raw()], out.numel())?;
    Ok(out)
}

/// Backward of [`avg_pool`]: contiguous float32 `grad` of the pooled shape, result of
/// `in_shape`.
pub fn avg_pool_backward(
    grad: &Tensor,
    input: [usize; 3],
    wins: [&[Win]; 3],
    div: Divisor,
    in_shape: &[usize],
) -> Result<Tensor> {
    let ctx = context_of(&[grad])?;
    let gin = empty(in_shape, DType::F32, ctx.index)?;
    if gin.numel() > 0 && too_big(&[grad], &[gin.numel()])? {
        let planes = planes(gin.numel(), input.iter().product());
        let per = gin.numel() / planes;
        by_planes(planes, &[grad], &[&gin], &mut |p, n| {
            Ok(vec![avg_pool_backward(&p[0], input, wins, div, &[n, per])?])
        })?;
        return Ok(gin);
    }
    let md = pool_md(gin.numel(), input, sizes(wins), [grad.offset(), 0], div, Some(wins))?;
    run(&ctx, Family::Pool, "avg_backward", &md, &[buffer(&gin)?.raw(), buffer(grad)?.raw()], gin.numel())?;
    Ok(gin)
}

/// Backward of max pooling: contiguous float32 `grad` and int32 `idx` (B planes of
/// `out`), result of `in_shape` (B planes of `input`). With the windows, each input
/// element only visits the outputs whose windows contain it; without, its whole plane.
pub fn max_pool_backward(
    grad: &Tensor,
    idx: &Tensor,
    input: [usize; 3],
    out: [usize; 3],
    wins: Option<[&[Win]; 3]>,
    in_shape: &[usize],
) -> Result<Tensor> {
    let ctx = context_of(&[grad, idx])?;
    let gin = empty(in_shape, DType::F32, ctx.index)?;
    let plane_in: usize = input.iter().product();
    if planes(gin.numel(), plane_in) != planes(grad.numel(), out.iter().product()) {
        bail!(Value, "max_pool_backward: grad_out {:?} and input {in_shape:?} differ in planes", grad.shape());
    }
    if gin.numel() > 0 && too_big(&[grad, idx], &[gin.numel()])? {
        let planes = planes(gin.numel(), plane_in);
        by_planes(planes, &[grad, idx], &[&gin], &mut |p, n| {
            Ok(vec![max_pool_backward(&p[0], &p[1], input, out, wins, &[n, plane_in])?])
        })?;
        return Ok(gin);
    }
    let md = pool_md(gin.numel(), input, out, [grad.offset(), idx.offset()], Divisor::Count, wins)?;
    let bufs = [buffer(&gin)?.raw(), buffer(grad)?.raw(), buffer(idx)?.raw()];
    run(&ctx, Family::Pool, "max_backward", &md, &bufs, gin.numel())?;
    Ok(gin)
}

// ---- padding -----------------------------------------------------------------------------

/// md of the pad kernels (layout in shaders/pad.wgsl), with the inverse lists when
/// `inverse`.
fn pad_md(count: usize, input: [usize; 3], maps: &[Vec<usize>], offset: usize, inverse: bool) -> Result<Vec<u32>> {
    let mut md = vec![w32(count)?];
    for &i in &input {
        md.push(w32(i)?);
    }
    for m in maps {
        md.push(w32(m.len())?);
    }
    md.push(word(offset as isize)?);
    md.extend([0; 6]);
    for (a, m) in maps.iter().enumerate() {
        md[8 + a] = w32(md.len())?;
        for &s in m {
            md.push(w32(s)?);
        }
    }
    if inverse {
        for (a, m) in maps.iter().enumerate() {
            // Output positions grouped by source coordinate (counting sort; each list in
            // increasing order, the order the CPU adds them in).
            let mut starts = vec![0usize; input[a] + 1];
            for &s in m {
                starts[s + 1] += 1;
            }
            for x in 0..input[a] {
                starts[x + 1] += starts[x];
            }
            let list_at = md.len() + starts.len();
            md[11 + a] = w32(md.len())?;
            for &s in &starts {
                md.push(w32(list_at + s)?);
            }
            let mut fill = starts.clone();
            let mut list = vec![0u32; m.len()];
            for (o, &s) in m.iter().enumerate() {
                list[fill[s]] = w32(o)?;
                fill[s] += 1;
            }
            md.extend(list);
        }
    }
    Ok(md)
}

/// Reflect/replicate/circular padding of contiguous `x` (B planes of `input`, any GPU
/// dtype): output position o along axis a copies input coordinate `maps[a][o]`.
pub fn pad(x: &Tensor, input: [usize; 3], maps: &[Vec<usize>], out_shape: &[usize]) -> Result<Tensor> {
    // The kernel copies 4-byte words.
    crate::gpu::no_f16(x.dtype(), "pad")?;
    let ctx = context_of(&[x])?;
    let out = empty(out_shape, x.dtype(), ctx.index)?;
    if out.numel() > 0 && too_big(&[x], &[out.numel()])? {
        let planes = planes(x.numel(), input.iter().product());
        let per = out.numel() / planes;
        by_planes(planes, &[x], &[&out], &mut |p, n| Ok(vec![pad(&p[0], input, maps, &[n, per])?]))?;
        return Ok(out);
    }
    let md = pad_md(out.numel(), input, maps, x.offset(), false)?;
    run(&ctx, Family::Pad, "gather", &md, &[buffer(&out)?.raw(), buffer(x)?.raw()], out.numel())?;
    Ok(out)
}

/// Backward of [`pad`] for contiguous float32 `grad`: each input element sums the
/// gradients of the outputs copied from it.
pub fn pad_backward(grad: &Tensor, input: [usize; 3], maps: &[Vec<usize>], in_shape: &[usize]) -> Result<Tensor> {
    let ctx = context_of(&[grad])?;
    let gin = empty(in_shape, DType::F32, ctx.index)?;
    if gin.numel() > 0 && too_big(&[grad], &[gin.numel()])? {
        let planes = planes(gin.numel(), input.iter().product());
        let per = gin.numel() / planes;
        by_planes(planes, &[grad], &[&gin], &mut |p, n| Ok(vec![pad_backward(&p[0], input, maps, &[n, per])?]))?;
        return Ok(gin);
    }
    let md = pad_md(gin.numel(), input, maps, grad.offset(), true)?;
    run(&ctx, Family::Pad, "scatter_sum", &md, &[buffer(&gin)?.raw(), buffer(grad)?.raw()], gin.numel())?;
    Ok(gin)
}
