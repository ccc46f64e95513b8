//! Row-wise kernels: softmax/log-softmax, argmax/argmin and cumulative sums/products along
//! one axis of any view. One workgroup per row; the row is read through the axis'
//! stride and the other axes index the rows (metadata: their shape and strides).

use super::kernels::{buffer, context_of, word};
use super::launch::{grid, launch};
use super::pieces::{bindable, in_pieces, Out};
use super::pipelines::pipeline;
use super::transfer::empty;
use crate::bail;
use crate::core::{DType, Error, Layout, Result, Tensor};
use crate::gpu::shaders::Family;
use crate::gpu::shaders_rows::{argreduce_subs, scan_subs};

/// The rows of a tensor along axis `a`: the other dims (size-1 ones dropped) index them.
pub(super) struct Rows {
    pub count: usize,
    pub len: usize,
    /// The kept dims' sizes, and their strides in each of the layouts given.
    pub shape: Vec<u32>,
    pub strides: Vec<Vec<u32>>,
}

pub(super) fn rows_of(a: usize, layouts: &[&Layout]) -> Result<Rows> {
    let shape = &layouts[0].shape;
    let mut kshape = Vec::new();
    let mut kstrides = vec![Vec::new(); layouts.len()];
    for d in (0..shape.len()).filter(|&d| d != a && shape[d] != 1) {
        kshape.push(u32::try_from(shape[d]).map_err(|_| too_big(shape))?);
        for (s, l) in kstrides.iter_mut().zip(layouts) {
            s.push(word(l.strides[d])?);
        }
    }
    let count: usize = shape.iter().enumerate().filter(|&(d, _)| d != a).map(|(_, &n)| n).product();
    u32::try_from(count).map_err(|_| too_big(shape))?;
    u32::try_from(shape[a]).map_err(|_| too_big(shape))?;
    Ok(Rows { count, len: shape[a], shape: kshape, strides: kstrides })
}

fn too_big(shape: &[usize]) -> Error {
    Error::Value(format!("a tensor of shape {shape:?} exceeds the GPU's 32-bit indexing"))
}

/// Softmax (or log-softmax) of the float32 `x` along axis `a`, as a contiguous tensor.
pub fn softmax(x: &Tensor, a: usize, log: bool) -> Result<Tensor> {
    if x.dtype() != DType::F32 {
        bail!(Type, "softmax on the GPU needs float32, got {}", x.dtype());
    }
    let ctx = context_of(&[x])?;
    let out = empty(x.shape(), DType::F32, ctx.index)?;
    if x.numel() == 0 {
        return Ok(out);
    }
    if !bindable(&[x, &out])? {
        let whole = [Out { full: &out, drops_keep: false }];
        in_pieces(x, Some(a), &whole, &mut |p| Ok(vec![softmax(p, a, log)?]))?;
        return Ok(out);
    }
    let Rows { count: rows, len: n, shape: kshape, strides: ks } = rows_of(a, &[x.layout(), out.layout()])?;
    let mut md = vec![rows as u32, n as u32, kshape.len() as u32, word(x.offset() as isize)?, u32::from(log)];
    md.extend([word(x.strides()[a])?, word(out.strides()[a])?]);
    md.extend(&kshape);
    md.extend(&ks[0]);
    md.extend(&ks[1]);
    let p = pipeline(&ctx, Family::Softmax, "main", &[])?;
    launch(&ctx, &p, &md, &[buffer(&out)?.raw(), buffer(x)?.raw()], grid(&ctx, rows as u64)?)?;
    Ok(out)
}

/// Index (int32) of the first largest (`max`) or smallest element along axis `a` of the
/// non-empty `x`; the result has `x`'s shape without axis `a`.
pub fn arg_extreme(x: &Tensor, a: usize, max: bool) -> Result<Tensor> {
    crate::gpu::no_f16(x.dtype(), if max { "argmax" } else { "argmin" })?;
    let ctx = context_of(&[x])?;
    let mut oshape = x.shape().to_vec();
    oshape.remove(a);
    let out = empty(&oshape, DType::I32, ctx.index)?;
    let Rows { count: rows, len: n, shape: kshape, strides: ks } = rows_of(a, &[x.layout()])?;
    if rows == 0 {
        return Ok(out);
    }
    if !bindable(&[x, &out])? {
        let whole = [Out { full: &out, drops_keep: true }];
        in_pieces(x, Some(a), &whole, &mut |p| Ok(vec![arg_extreme(p, a, max)?]))?;
        return Ok(out);
    }
    let mut md = vec![rows as u32, n as u32, kshape.len() as u32, word(x.offset() as isize)?, word(x.strides()[a])?];
    md.extend(&kshape);
    md.extend(&ks[0]);
    let p = pipeline(&ctx, Family::ArgReduce, "main", &argreduce_subs(max, x.dtype()))?;
    launch(&ctx, &p, &md, &[buffer(&out)?.raw(), buffer(x)?.raw()], grid(&ctx, rows as u64)?)?;
    Ok(out)
}

/// Running sum (or product) of `x` along axis `a`, in `x`'s dtype, as a contiguous tensor.
pub fn cumulative(x: &Tensor, a: usize, prod: bool) -> Result<Tensor> {
    if x.dtype() == DType::Bool {
        bail!(Type, "cumulative ops on the GPU need a numeric dtype, got bool");
    }
    crate::gpu::no_f16(x.dtype(), if prod { "cumprod" } else { "cumsum" })?;
    let ctx = context_of(&[x])?;
    let out = empty(x.shape(), x.dtype(), ctx.index)?;
    if x.numel() == 0 {
        return Ok(out);
    }
    if !bindable(&[x, &out])? {
        let whole = [Out { full: &out, drops_keep: false }];
        in_pieces(x, Some(a), &whole, &mut |p| Ok(vec![cumulative(p, a, prod)?]))?;
        return Ok(out);
    }
    let Rows { count: rows, len: n, shape: kshape, strides: ks } = rows_of(a, &[x.layout(), out.layout()])?;
    let mut md = vec![rows as u32, n as u32, kshape.len() as u32, word(x.offset() as isize)?];
    md.extend([word(x.strides()[a])?, word(out.strides()[a])?]);
    md.extend(&kshape);
    md.extend(&ks[0]);
    md.extend(&ks[1]);
    let p = pipeline(&ctx, Family::Scan, "main", &scan_subs(prod, x.dtype()))?;
    launch(&ctx, &p, &md, &[buffer(&out)?.raw(), buffer(x)?.raw()], grid(&ctx, rows as u64)?)?;
    Ok(out)
}
