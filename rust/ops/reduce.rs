//! Reductions at the tensor level: axis handling, result dtypes (numpy's: integer sums
//! widen to 64 bits, half floats accumulate in float32), keepdims, and compositions
//! (mean, var/std, logsumexp, count_nonzero) of the primitive kernels.

use crate::bail;
use crate::core::{default_float, normalize_axis, DType, Layout, Result, Scalar, Tensor};
use crate::cpu::reduce::{reduce as run, Max, Min, Prod, Sum};
use crate::cpu::strided::MultiPlan;
use crate::ops::copy::{astype, contiguous, fill};
use crate::ops::elementwise::{binary, unary, Operand};
use crate::ops::f16_gpu::{narrow, through_f32, widen};
use crate::ops::table::{BinaryOp, UnaryOp};
use crate::with_dtype;

/// Sorted, de-duplicated axes (`None` = all).
pub fn axes_of(ndim: usize, axes: Option<&[i64]>) -> Result<Vec<usize>> {
    let mut out: Vec<usize> = match axes {
        None => (0..ndim).collect(),
        Some(a) => a.iter().map(|&x| normalize_axis(x, ndim)).collect::<Result<_>>()?,
    };
    out.sort_unstable();
    let n = out.len();
    out.dedup();
    if out.len() != n {
        bail!(Value, "duplicate axes in {axes:?}");
    }
    Ok(out)
}

/// The shape with reduced axes set to 1 (keepdims) or removed.
fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if !axes.contains(&i) {
            out.push(d);
        } else if keepdims {
            out.push(1);
        }
    }
    out
}

/// The accumulator dtype on `device`: the GPU has no 64-bit integers, so integer and
/// bool sums accumulate in (and return) int32/uint32 there.
fn sum_dtype_on(d: DType, device: crate::core::Device) -> DType {
    match (sum_dtype(d), device.is_gpu()) {
        (DType::I64, true) => DType::I32,
        (DType::U64, true) => DType::U32,
        (s, _) => s,
    }
}

fn sum_dtype(d: DType) -> DType {
    match d {
        DType::Bool | DType::I8 | DType::I16 | DType::I32 | DType::I64 => DType::I64,
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => DType::U64,
        DType::F16 | DType::BF16 => DType::F32,
        f => f,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Prod,
    Max,
    Min,
}

/// Runs one primitive reduction of `x` (already in the compute dtype) over `axes`.
fn primitive(kind: Kind, x: &Tensor, axes: &[usize], keepdims: bool) -> Result<Tensor> {
    let kshape = reduced_shape(x.shape(), axes, true);
    let empty = x.numel() == 0;
    if matches!(kind, Kind::Max | Kind::Min) && empty {
        bail!(
            Value,
            "{}: cannot reduce an empty tensor of shape {:?} (no identity)",
            if matches!(kind, Kind::Max) { "max" } else { "min" },
            x.shape()
        );
    }
    if x.device().is_gpu() {
        let out = if empty {
            let identity = Scalar::Int(i64::from(kind == Kind::Prod));
            crate::ops::create::full_on(&kshape, identity, x.dtype(), x.device())?
        } else {
            let k = match kind {
                Kind::Sum => crate::gpu::ReduceKind::Sum,
                Kind::Prod => crate::gpu::ReduceKind::Prod,
                Kind::Max => crate::gpu::ReduceKind::Max,
                Kind::Min => crate::gpu::ReduceKind::Min,
            };
            crate::gpu::reduce(k, x, axes)?
        };
        return if keepdims {
            Ok(out)
        } else {
            Ok(out.with_layout(Layout::contiguous(&reduced_shape(x.shape(), axes, false))?))
        };
    }
    let out = Tensor::zeros(&kshape, x.dtype())?;
    let n_out = out.numel();
    if matches!(kind, Kind::Max | Kind::Min) {
        // Seed with the first element along the reduced axes.
        let mut first = x.layout().clone();
        for &a in axes {
            first.shape[a] = 1;
        }
        crate::ops::copy::assign(&out, &x.with_layout(first))?;
    } else if matches!(kind, Kind::Prod) {
        fill(&out, Scalar::Int(1))?;
    }
    let ob = out.layout().broadcast_to(x.shape())?;
    let plan = MultiPlan::new(x.shape(), [x.strides(), &ob.strides]);
    let (px, po) = (x.data_ptr(), out.data_ptr());
    with_dtype!(x.dtype(), T => unsafe {
        match kind {
            Kind::Sum => run(&plan, px as *const T, po as *mut T, n_out, Sum),
            Kind::Prod => run(&plan, px as *const T, po as *mut T, n_out, Prod),
            Kind::Max => run(&plan, px as *const T, po as *mut T, n_out, Max),
            Kind::Min => run(&plan, px as *const T, po as *mut T, n_out, Min),
        }
    });
    if keepdims {
        Ok(out)
    } else {
        Ok(out.with_layout(Layout::contiguous(&reduced_shape(x.shape(), axes, false))?))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
    All,
    Any,
}

pub fn reduce(op: ReduceOp, x: &Tensor, axes: Option<&[i64]>, keepdims: bool, dtype: Option<DType>) -> Result<Tensor> {
    let ax = axes_of(x.ndim(), axes)?;
    match op {
        ReduceOp::Sum | ReduceOp::Prod => {
            let target = dtype.unwrap_or_else(|| {
                if matches!(x.dtype(), DType::F16 | DType::BF16) {
                    x.dtype()
                } else {
                    sum_dtype_on(x.dtype(), x.device())
                }
            });
            let compute = sum_dtype_on(target, x.device());
            let xc = if x.dtype() == compute { x.clone() } else { astype(x, compute)? };
            let r = primitive(if op == ReduceOp::Sum { Kind::Sum } else { Kind::Prod }, &xc, &ax, keepdims)?;
            if r.dtype() == target {
                Ok(r)
            } else {
                astype(&r, target)
            }
        }
        ReduceOp::Max | ReduceOp::Min => {
            let kind = if op == ReduceOp::Max { Kind::Max } else { Kind::Min };
            primitive(kind, x, &ax, keepdims)
        }
        ReduceOp::All | ReduceOp::Any => {
            // any = max over bools, all = min over bools; empty: any -> False, all -> True.
            let b = if x.dtype() == DType::Bool { x.clone() } else { astype(x, DType::Bool)? };
            if b.numel() == 0 {
                let shape = reduced_shape(x.shape(), &ax, keepdims);
                return crate::ops::create::full_on(&shape, Scalar::Bool(op == ReduceOp::All), DType::Bool, x.device());
            }
            primitive(if op == ReduceOp::Any { Kind::Max } else { Kind::Min }, &b, &ax, keepdims)
        }
    }
}

fn count(x: &Tensor, axes: &[usize]) -> usize {
    axes.iter().map(|&a| x.shape()[a]).product()
}

fn float_of(x: &Tensor) -> Result<Tensor> {
    if x.dtype().is_float() {
        Ok(x.clone())
    } else {
        astype(x, default_float())
    }
}

pub fn mean(x: &Tensor, axes: Option<&[i64]>, keepdims: bool) -> Result<Tensor> {
    let ax = axes_of(x.ndim(), axes)?;
    let xf = float_of(x)?;
    let s = reduce(ReduceOp::Sum, &xf, axes, keepdims, Some(sum_dtype_on(xf.dtype(), xf.device())))?;
    let n = count(x, &ax) as f64;
    let m = binary(BinaryOp::Div, Operand::Tensor(s), Operand::Scalar(Scalar::Float(n)), None)?;
    if m.dtype() == xf.dtype() {
        Ok(m)
    } else {
        astype(&m, xf.dtype())
    }
}

/// Variance with `correction` (0: population, 1: sample), numpy's two-pass algorithm.
pub fn var(x: &Tensor, axes: Option<&[i64]>, correction: f64, keepdims: bool) -> Result<Tensor> {
    let ax = axes_of(x.ndim(), axes)?;
    let xf = float_of(x)?;
    let wide = sum_dtype_on(xf.dtype(), xf.device());
    let xw = if xf.dtype() == wide { xf.clone() } else { astype(&xf, wide)? };
    let m = mean(&xw, axes, true)?;
    let d = binary(BinaryOp::Sub, Operand::Tensor(xw), Operand::Tensor(m), None)?;
    let sq = unary(UnaryOp::Square, &d, Some(&d))?;
    let s = reduce(ReduceOp::Sum, &sq, axes, keepdims, None)?;
    let n = count(x, &ax) as f64 - correction;
    let v = binary(BinaryOp::Div, Operand::Tensor(s), Operand::Scalar(Scalar::Float(n.max(0.0))), None)?;
    if v.dtype() == xf.dtype() {
        Ok(v)
    } else {
        astype(&v, xf.dtype())
    }
}

pub fn std(x: &Tensor, axes: Option<&[i64]>, correction: f64, keepdims: bool) -> Result<Tensor> {
    let v = var(x, axes, correction, keepdims)?;
    unary(UnaryOp::Sqrt, &v, Some(&v))
}

pub fn count_nonzero(x: &Tensor, axes: Option<&[i64]>, keepdims: bool) -> Result<Tensor> {
    let b = astype(x, DType::Bool)?;
    let count = if x.device().is_gpu() { DType::I32 } else { DType::I64 };
    reduce(ReduceOp::Sum, &b, axes, keepdims, Some(count))
}

/// `log(sum(exp(x)))`, stable: the max is subtracted first (and -inf rows stay -inf).
pub fn logsumexp(x: &Tensor, axes: Option<&[i64]>, keepdims: bool) -> Result<Tensor> {
    let xf = float_of(x)?;
    let m = reduce(ReduceOp::Max, &xf, axes, true, None)?;
    // A row that is all -inf (or has +inf) would give nan from inf - inf: shift by 0 there.
    let finite = unary(UnaryOp::IsFinite, &m, None)?;
    let shift =
        crate::ops::elementwise::select(&finite, Operand::Tensor(m.clone()), Operand::Scalar(Scalar::Float(0.0)))?;
    let d = binary(BinaryOp::Sub, Operand::Tensor(xf), Operand::Tensor(shift.clone()), None)?;
    let e = unary(UnaryOp::Exp, &d, Some(&d))?;
    let s = reduce(ReduceOp::Sum, &e, axes, true, None)?;
    let l = unary(UnaryOp::Log, &s, Some(&s))?;
    let r = binary(BinaryOp::Add, Operand::Tensor(l), Operand::Tensor(shift), None)?;
    if keepdims {
        return Ok(r);
    }
    let ax = axes_of(x.ndim(), axes)?;
    r.reshape(&reduced_shape(x.shape(), &ax, false).iter().map(|&d| d as i64).collect::<Vec<_>>())
}

/// numpy's argmax/argmin: over the flattened tensor when `axis` is None.
pub fn arg_extreme(x: &Tensor, axis: Option<i64>, keepdims: bool, max: bool) -> Result<Tensor> {
    let name = if max { "argmax" } else { "argmin" };
    let (src, a) = match axis {
        None => (x.reshape(&[-1])?, 0usize),
        Some(a) => (x.clone(), normalize_axis(a, x.ndim().max(1))?),
    };
    let src = if src.ndim() == 0 { src.reshape(&[1])? } else { src };
    if src.shape()[a] == 0 {
        bail!(Value, "{name}: cannot take the index of an empty axis (shape {:?})", x.shape());
    }
    let out = if x.device().is_gpu() {
        // int32 indices: the GPU holds no int64 (as `arange` there).
        crate::gpu::arg_extreme(&widen(&src)?, a, max)?
    } else {
        let mut oshape = src.shape().to_vec();
        oshape.remove(a);
        let out = Tensor::for_overwrite(&oshape, DType::I64)?;
        with_dtype!(src.dtype(), T => unsafe {
            crate::cpu::axis::along::<T, i64>(&src, &out, a, |p, s, o, _, n| *o = crate::cpu::axis::arg_extreme(p, s, n, max))
        });
        out
    };
    match (keepdims, axis) {
        (false, _) => Ok(out),
        (true, None) => out.reshape(&vec![1; x.ndim()]),
        (true, Some(_)) => out.unsqueeze(a as i64),
    }
}

/// Softmax or log-softmax along `axis`, fused per line (max, exp-sum, normalise).
pub fn softmax(x: &Tensor, axis: i64, log: bool) -> Result<Tensor> {
    let a = normalize_axis(axis, x.ndim().max(1))?;
    let xf = float_of(x)?;
    let src = if xf.ndim() == 0 { xf.reshape(&[1])? } else { xf.clone() };
    if src.device().is_gpu() {
        let out = through_f32(&src, |s| crate::gpu::softmax(s, a, log))?;
        return Ok(out.with_layout(Layout::contiguous(xf.shape())?));
    }
    let compute = if src.dtype() == DType::F64 { DType::F64 } else { DType::F32 };
    let src = if src.dtype() == compute { src } else { astype(&src, compute)? };
    let out = Tensor::for_overwrite(src.shape(), compute)?;
    if src.numel() > 0 {
        unsafe {
            if compute == DType::F64 {
                crate::cpu::axis::along::<f64, f64>(&src, &out, a, |p, s, o, so, n| {
                    crate::cpu::axis::softmax(p, s, o, so, n, log)
                })
            } else {
                crate::cpu::axis::along::<f32, f32>(&src, &out, a, |p, s, o, so, n| {
                    crate::cpu::axis::softmax(p, s, o, so, n, log)
                })
            }
        }
    }
    let out = if out.dtype() == xf.dtype() { out } else { astype(&out, xf.dtype())? };
    Ok(out.with_layout(Layout::contiguous(xf.shape())?))
}

/// Running sum/product along `axis` (flattened when None), in `dtype` or numpy's default.
pub fn cumulative(x: &Tensor, axis: Option<i64>, prod: bool, dtype: Option<DType>) -> Result<Tensor> {
    let (src, a) = match axis {
        None => (x.reshape(&[-1])?, 0usize),
        Some(a) => (x.clone(), normalize_axis(a, x.ndim())?),
    };
    let target =
        dtype.unwrap_or_else(|| if x.dtype().is_float() { x.dtype() } else { sum_dtype_on(x.dtype(), x.device()) });
    // float16/bfloat16 accumulate in float32 and round each running value once (as
    // PyTorch does, and as sums do here): a float16 accumulator stalls at 2048.
    let acc = if matches!(target, DType::F16 | DType::BF16) { DType::F32 } else { target };
    let src = if src.dtype() == acc { src } else { astype(&src, acc)? };
    let out = if src.device().is_gpu() {
        crate::gpu::cumulative(&src, a, prod)?
    } else {
        let out = Tensor::for_overwrite(src.shape(), acc)?;
        if src.numel() > 0 {
            with_dtype!(acc, T => unsafe {
                crate::cpu::axis::along::<T, T>(&src, &out, a, |p, s, o, so, n| crate::cpu::axis::cumulative(p, s, o, so, n, prod))
            });
        }
        out
    };
    narrow(out, target)
}

/// Stable sort along `axis`: (values, indices).
pub fn sort(x: &Tensor, axis: i64, descending: bool) -> Result<(Tensor, Tensor)> {
    let src = if x.ndim() == 0 { x.reshape(&[1])? } else { x.clone() };
    let a = normalize_axis(axis, src.ndim())?;
    let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    if src.device().is_gpu() {
        // int32 indices: the GPU holds no int64 (as argmax there).
        let (v, i) = crate::gpu::sort(&widen(&src)?, a, descending)?;
        let v = narrow(contiguous(&v)?, src.dtype())?;
        return Ok((v.reshape(&shape)?, contiguous(&i)?.reshape(&shape)?));
    }
    let vals = Tensor::for_overwrite(src.shape(), src.dtype())?;
    let idx = Tensor::for_overwrite(src.shape(), DType::I64)?;
    if src.numel() > 0 {
        // Both outputs are contiguous with the same shape, so one walk serves both: the
        // index line sits at the same element offset as the value line.
        let (vb, ib) = (vals.data_ptr() as usize, idx.data_ptr() as usize);
        let vsize = src.dtype().size();
        with_dtype!(src.dtype(), T => unsafe {
            crate::cpu::axis::along::<T, T>(&src, &vals, a, |p, s, o, so, n| {
                let elem = (o as usize - vb) / vsize;
                let ip = (ib as *mut i64).add(elem);
                crate::cpu::axis::sort_line(p, s, o, so, ip, so, n, descending)
            })
        });
    }
    Ok((vals.reshape(&shape)?, idx.reshape(&shape)?))
}

/// For each value, the insertion point into the sorted 1-D `seq` (numpy's searchsorted).
pub fn searchsorted(seq: &Tensor, values: &Tensor, right: bool) -> Result<Tensor> {
    let gpu = crate::ops::device::common_device("searchsorted", &[seq, values])?.is_gpu();
    if seq.ndim() != 1 {
        bail!(Value, "searchsorted: the sorted sequence must be 1-D, got shape {:?}", seq.shape());
    }
    let dt = crate::core::promote(seq.dtype(), values.dtype());
    let s = astype(seq, dt)?;
    let v = astype(values, dt)?;
    if gpu {
        // int32 positions: the GPU holds no int64.
        return crate::gpu::searchsorted(&contiguous(&widen(&s)?)?, &contiguous(&widen(&v)?)?, right);
    }
    let out = Tensor::for_overwrite(values.shape(), DType::I64)?;
    with_dtype!(dt, T => {
        // SAFETY: fresh contiguous tensors of the stated lengths.
        let sv = unsafe { std::slice::from_raw_parts(s.data_ptr() as *const T, s.numel()) };
        let vv = unsafe { std::slice::from_raw_parts(v.data_ptr() as *const T, v.numel()) };
        let ov = unsafe { std::slice::from_raw_parts_mut(out.data_ptr() as *mut i64, v.numel()) };
        for (o, x) in ov.iter_mut().zip(vv) {
            *o = sv.partition_point(|e| {
                let c = crate::cpu::axis::cmp_nan_last(e, x);
                if right { c != std::cmp::Ordering::Greater } else { c == std::cmp::Ordering::Less }
            }) as i64;
        }
    });
    Ok(out)
}

/// Sorted unique values of the flattened tensor, with the inverse indices (into the
/// unique values, shaped like `x`) and the counts.
pub fn unique(x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let flat = x.reshape(&[-1])?;
    let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    if x.device().is_gpu() {
        if flat.numel() == 0 {
            let dev = x.device();
            let empty = |d: DType| crate::ops::create::full_on(&[0], Scalar::Int(0), d, dev);
            return Ok((empty(x.dtype())?, empty(DType::I32)?.reshape(&shape)?, empty(DType::I32)?));
        }
        let (u, inverse, counts) = crate::gpu::unique(&widen(&flat)?)?;
        return Ok((narrow(u, flat.dtype())?, inverse.reshape(&shape)?, counts));
    }
    let (vals, idx) = sort(&flat, 0, false)?;
    let n = flat.numel();
    let inverse = Tensor::for_overwrite(&[n], DType::I64)?;
    let (uniq, counts) = with_dtype!(vals.dtype(), T => {
        // SAFETY: fresh contiguous tensors of n elements.
        let v = unsafe { std::slice::from_raw_parts(vals.data_ptr() as *const T, n) };
        let ix = unsafe { std::slice::from_raw_parts(idx.data_ptr() as *const i64, n) };
        let inv = unsafe { std::slice::from_raw_parts_mut(inverse.data_ptr() as *mut i64, n) };
        let (mut u, mut c): (Vec<T>, Vec<i64>) = (Vec::new(), Vec::new());
        for k in 0..n {
            // numpy keeps NaNs as one value (equal_nan=True).
            let same = k > 0 && crate::cpu::axis::cmp_nan_last(&v[k], &v[k - 1]) == std::cmp::Ordering::Equal;
            if !same {
                u.push(v[k]);
                c.push(0);
            }
            *c.last_mut().expect("pushed above") += 1;
            inv[ix[k] as usize] = u.len() as i64 - 1;
        }
        (Tensor::from_vec(&u, &[u.len()])?, Tensor::from_vec(&c, &[c.len()])?)
    });
    Ok((uniq, inverse.reshape(&shape)?, counts))
}
