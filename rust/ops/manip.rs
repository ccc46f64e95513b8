//! Manipulation that produces new tensors: concat, tile, numpy's repeat, roll, tril/triu.

use crate::bail;
use crate::core::{normalize_axis, promote, Layout, Result, Tensor};
use crate::ops::copy::{assign, contiguous_copy};
use crate::with_dtype;

pub fn concat(tensors: &[Tensor], axis: i64) -> Result<Tensor> {
    let Some(first) = tensors.first() else { bail!(Value, "concat needs at least one tensor") };
    if first.ndim() == 0 {
        bail!(Value, "zero-dimensional tensors cannot be concatenated");
    }
    let a = normalize_axis(axis, first.ndim())?;
    let mut shape = first.shape().to_vec();
    let mut dtype = first.dtype();
    shape[a] = 0;
    for t in tensors {
        let ok = t.ndim() == first.ndim() && (0..t.ndim()).all(|d| d == a || t.shape()[d] == first.shape()[d]);
        if !ok {
            bail!(Value, "concat along axis {a}: shapes {:?} and {:?} differ off that axis", first.shape(), t.shape());
        }
        shape[a] += t.shape()[a];
        dtype = promote(dtype, t.dtype());
    }
    // Every element is written by exactly one of the pieces.
    let all: Vec<&Tensor> = tensors.iter().collect();
    let device = crate::ops::device::common_device("concat", &all)?;
    let out = Tensor::for_overwrite_on(&shape, dtype, device)?;
    let mut at = 0;
    for t in tensors {
        let n = t.shape()[a];
        assign(&out.narrow(a as i64, at as i64, n)?, t)?;
        at += n;
    }
    Ok(out)
}

pub fn stack(tensors: &[Tensor], axis: i64) -> Result<Tensor> {
    let Some(first) = tensors.first() else { bail!(Value, "stack needs at least one tensor") };
    for t in tensors {
        if t.shape() != first.shape() {
            bail!(Value, "stack needs tensors of one shape, got {:?} and {:?}", first.shape(), t.shape());
        }
    }
    let a = normalize_axis(axis, first.ndim() + 1)? as i64;
    let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(a)).collect::<Result<_>>()?;
    concat(&parts, a)
}

/// numpy's `tile`: `reps` shorter than ndim is padded with leading ones, and vice versa.
pub fn tile(t: &Tensor, reps: &[usize]) -> Result<Tensor> {
    let n = reps.len().max(t.ndim());
    let mut shape = vec![1usize; n - t.ndim()];
    shape.extend_from_slice(t.shape());
    let mut reps_full = vec![1usize; n - reps.len()];
    reps_full.extend_from_slice(reps);
    // View (d0, d1, ...) as (1, d0, 1, d1, ...), broadcast to (r0, d0, r1, d1, ...), copy.
    let base = t.reshape(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>())?;
    let mut inter = Vec::with_capacity(2 * n);
    let mut bshape = Vec::with_capacity(2 * n);
    for d in 0..n {
        inter.push(1i64);
        inter.push(shape[d] as i64);
        bshape.push(reps_full[d]);
        bshape.push(shape[d]);
    }
    let b = base.reshape(&inter)?.broadcast_to(&bshape)?;
    let out: Vec<i64> = (0..n).map(|d| (reps_full[d] * shape[d]) as i64).collect();
    contiguous_copy(&b)?.reshape(&out)
}

/// numpy's `repeat`: each element repeated `repeats[i]` times along `axis` (flattened
/// input when `axis` is None). A single count applies to every element.
pub fn repeat(t: &Tensor, repeats: &[usize], axis: Option<i64>) -> Result<Tensor> {
    let (src, a) = match axis {
        None => (t.reshape(&[-1])?, 0usize),
        Some(ax) => (t.clone(), normalize_axis(ax, t.ndim())?),
    };
    let len = src.shape()[a];
    if repeats.len() != 1 && repeats.len() != len {
        bail!(Value, "repeat: {} counts given for an axis of size {len}", repeats.len());
    }
    if repeats.len() == 1 {
        // (.., d, ..) -> (.., d, 1, ..) broadcast to (.., d, r, ..) -> (.., d*r, ..)
        let r = repeats[0];
        let u = src.unsqueeze(a as i64 + 1)?;
        let mut bshape = u.shape().to_vec();
        bshape[a + 1] = r;
        let mut out: Vec<i64> = src.shape().iter().map(|&d| d as i64).collect();
        out[a] = (len * r) as i64;
        return contiguous_copy(&u.broadcast_to(&bshape)?)?.reshape(&out);
    }
    let mut shape = src.shape().to_vec();
    shape[a] = repeats
        .iter()
        .try_fold(0usize, |acc, &r| acc.checked_add(r))
        .ok_or_else(|| crate::core::Error::Value(format!("repeat: counts {repeats:?} are too large")))?;
    let out = Tensor::for_overwrite_on(&shape, src.dtype(), src.device())?;
    let mut at = 0usize;
    for (i, &r) in repeats.iter().enumerate() {
        if r > 0 {
            let piece = src.narrow(a as i64, i as i64, 1)?;
            assign(&out.narrow(a as i64, at as i64, r)?, &piece)?;
            at += r;
        }
    }
    Ok(out)
}

/// Rolls elements along `axes` by `shifts` (flattened when `axes` is empty).
pub fn roll(t: &Tensor, shifts: &[i64], axes: &[i64]) -> Result<Tensor> {
    if axes.is_empty() {
        if shifts.len() != 1 {
            bail!(Value, "roll without axes takes a single shift, got {shifts:?}");
        }
        let flat = contiguous_copy(t)?.reshape(&[-1])?;
        let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
        return roll(&flat, shifts, &[0])?.reshape(&shape);
    }
    if shifts.len() != axes.len() {
        bail!(Value, "roll: {} shifts for {} axes", shifts.len(), axes.len());
    }
    let mut cur = contiguous_copy(t)?;
    for (&s, &ax) in shifts.iter().zip(axes) {
        let a = normalize_axis(ax, t.ndim())?;
        let n = t.shape()[a] as i64;
        if n == 0 {
            continue;
        }
        let k = s.rem_euclid(n);
        if k == 0 {
            continue;
        }
        let out = Tensor::for_overwrite_on(cur.shape(), cur.dtype(), cur.device())?;
        assign(&out.narrow(a as i64, k, (n - k) as usize)?, &cur.narrow(a as i64, 0, (n - k) as usize)?)?;
        assign(&out.narrow(a as i64, 0, k as usize)?, &cur.narrow(a as i64, n - k, k as usize)?)?;
        cur = out;
    }
    Ok(cur)
}

/// Lower (`lower`) or upper triangle of the last two dims, relative to diagonal `k`.
pub fn triangle(t: &Tensor, k: i64, lower: bool) -> Result<Tensor> {
    if t.ndim() < 2 {
        bail!(Value, "{} needs at least 2 dimensions, got shape {:?}", if lower { "tril" } else { "triu" }, t.shape());
    }
    if t.device().is_gpu() {
        return gpu_triangle(t, k, lower);
    }
    let out = contiguous_copy(t)?;
    let n = t.ndim();
    let (rows, cols) = (t.shape()[n - 2], t.shape()[n - 1]);
    let batch = t.numel() / (rows * cols).max(1);
    if rows * cols > 0 {
        with_dtype!(out.dtype(), T => unsafe {
            crate::cpu::fill::triangle(out.data_ptr() as *mut T, batch, rows, cols, k, lower)
        });
    }
    Ok(out.with_layout(Layout::contiguous(t.shape())?))
}

/// tril/triu on the GPU from existing kernels: `where(col - row <= k, t, 0)` (`>= k` for
/// the upper triangle) with the row and column indices from `arange`.
fn gpu_triangle(t: &Tensor, k: i64, lower: bool) -> Result<Tensor> {
    use crate::core::{DType, Scalar};
    use crate::ops::elementwise::{binary, select, Operand};
    use crate::ops::table::BinaryOp;
    let n = t.ndim();
    let (rows, cols) = (t.shape()[n - 2] as i64, t.shape()[n - 1] as i64);
    // Beyond the matrix every k acts alike; clamped so the scalar fits int32.
    let k = k.clamp(-(rows + cols), rows + cols);
    let index = |len: i64, shape: &[i64]| {
        crate::ops::create::arange_on(Scalar::Int(0), Scalar::Int(len), Scalar::Int(1), DType::I32, t.device())?
            .reshape(shape)
    };
    let diff = binary(
        BinaryOp::Sub,
        Operand::Tensor(index(cols, &[1, cols])?),
        Operand::Tensor(index(rows, &[rows, 1])?),
        None,
    )?;
    let op = if lower { BinaryOp::Le } else { BinaryOp::Ge };
    let keep = binary(op, Operand::Tensor(diff), Operand::Scalar(Scalar::Int(k)), None)?;
    let zero = crate::ops::create::full_on(&[], Scalar::Int(0), t.dtype(), t.device())?;
    select(&keep, Operand::Tensor(t.clone()), Operand::Tensor(zero))
}
