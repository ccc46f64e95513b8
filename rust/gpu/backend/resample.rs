//! Interpolation (shaders/resample.wgsl) from per-axis tables that the op computes as
//! the CPU kernels do: nearest maps, linear taps, and for the backward the range of
//! outputs that reads each input element. Tensors are (N, C, *spatial) with the
//! spatial dims padded in front to three.

use super::kernels::context_of;
use super::launch::{grid, launch};
use super::pipelines::pipeline;
use super::sorted::contiguous_from_zero;
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::cpu::resample::Tap;
use crate::gpu::shaders::Family;

/// Invocations per workgroup (`WG` in shaders/common.wgsl).
const WG: u64 = 256;
const HEADER: usize = 16;

fn small(n: usize) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| crate::core::Error::Value(format!("interpolate: {n} exceeds the GPU's 32-bit indexing")))
}

/// The header for `planes` planes of `input` -> `output` spatial dims (three each).
fn header(planes: usize, input: [usize; 3], output: [usize; 3], two: [bool; 3]) -> Result<Vec<u32>> {
    let mut md = vec![small(planes)?];
    for v in input.iter().chain(&output) {
        md.push(small(*v)?);
    }
    md.extend(two.map(u32::from));
    md.resize(HEADER, 0);
    Ok(md)
}

fn spatial(shape: &[usize]) -> (usize, [usize; 3]) {
    let k = shape.len() - 2;
    let mut s = [1; 3];
    s[3 - k..].copy_from_slice(&shape[2..]);
    (shape[0] * shape[1], s)
}

/// Appends the taps of every axis (i0, i1, l0 bits, l1 bits) and records where they start.
fn push_taps(md: &mut Vec<u32>, taps: &[Vec<Tap<f32>>]) -> Result<()> {
    for (a, axis) in taps.iter().enumerate() {
        md[10 + a] = small(md.len())?;
        for t in axis {
            md.extend([small(t.i[0])?, small(t.i[1])?, t.l[0].to_bits(), t.l[1].to_bits()]);
        }
    }
    Ok(())
}

fn run(entry: &str, md: &[u32], src: &Tensor, out_shape: &[usize], dtype: DType) -> Result<Tensor> {
    let ctx = context_of(&[src])?;
    let out = empty(out_shape, dtype, ctx.index)?;
    if out.numel() == 0 {
        return Ok(out);
    }
    small(out.numel())?;
    if super::pieces::too_big(&[src], &[out.numel()])? {
        // Pieces of whole planes (md[0] counts them).
        let planes = md[0] as usize;
        let per = out.numel() / planes;
        let whole = [&out];
        super::pieces::by_planes(planes, &[src], &whole, &mut |p, n| {
            let mut md = md.to_vec();
            md[0] = small(n)?;
            Ok(vec![run(entry, &md, &p[0], &[n, per], dtype)?])
        })?;
        return Ok(out);
    }
    let src = contiguous_from_zero(src)?;
    let p = pipeline(&ctx, Family::Resample, entry, &[])?;
    let bufs = [super::kernels::buffer(&out)?.raw(), super::kernels::buffer(&src)?.raw()];
    launch(&ctx, &p, md, &bufs, grid(&ctx, (out.numel() as u64).div_ceil(WG))?)?;
    Ok(out)
}

/// Nearest-neighbour resampling of `x` (any 4-byte GPU dtype: the kernel moves words)
/// by per-axis source maps (three).
pub fn resample_nearest(x: &Tensor, maps: &[Vec<usize>], out_shape: &[usize]) -> Result<Tensor> {
    crate::gpu::no_f16(x.dtype(), "nearest interpolation")?;
    let (planes, input) = spatial(x.shape());
    let output = [maps[0].len(), maps[1].len(), maps[2].len()];
    let mut md = header(planes, input, output, [false; 3])?;
    for (a, map) in maps.iter().enumerate() {
        md[10 + a] = small(md.len())?;
        for &m in map {
            md.push(small(m)?);
        }
    }
    run("nearest", &md, x, out_shape, x.dtype())
}

/// Linear interpolation of the float32 `x` by per-axis taps (three); `two[a]` is false
/// where axis a reads tap 0 only.
pub fn resample_linear(x: &Tensor, taps: &[Vec<Tap<f32>>], two: [bool; 3], out_shape: &[usize]) -> Result<Tensor> {
    if x.dtype() != DType::F32 {
        bail!(Type, "interpolate on the GPU needs float32 for linear modes, got {}", x.dtype());
    }
    let (planes, input) = spatial(x.shape());
    let output = [taps[0].len(), taps[1].len(), taps[2].len()];
    let mut md = header(planes, input, output, two)?;
    push_taps(&mut md, taps)?;
    run("linear", &md, x, out_shape, DType::F32)
}

/// The input gradient (shape `in_shape`) of a resampling by `taps`, given the float32
/// output gradient `g` (nearest maps are taps with one index and weight 1).
pub fn resample_backward(g: &Tensor, taps: &[Vec<Tap<f32>>], two: [bool; 3], in_shape: &[usize]) -> Result<Tensor> {
    if g.dtype() != DType::F32 {
        bail!(Type, "interpolate backward on the GPU needs float32, got {}", g.dtype());
    }
    let (planes, input) = spatial(in_shape);
    let output = [taps[0].len(), taps[1].len(), taps[2].len()];
    let mut md = header(planes, input, output, two)?;
    push_taps(&mut md, taps)?;
    for (a, axis) in taps.iter().enumerate() {
        md[13 + a] = small(md.len())?;
        // [first, last + 1) of the outputs whose taps touch each input index.
        let mut ranges = vec![(u32::MAX, 0u32); input[a]];
        for (o, t) in axis.iter().enumerate() {
            let used = if two[a] { &t.i[..] } else { &t.i[..1] };
            for &i in used {
                let r = &mut ranges[i];
                r.0 = r.0.min(o as u32);
                r.1 = r.1.max(o as u32 + 1);
            }
        }
        for (lo, hi) in ranges {
            md.extend(if lo == u32::MAX { [0, 0] } else { [lo, hi] });
        }
    }
    run("backward", &md, g, in_shape, DType::F32)
}
