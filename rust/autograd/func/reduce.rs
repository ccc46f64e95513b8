//! Differentiable reductions, softmax and cumulative ops.

use std::sync::Arc;

use super::elementwise::{c, cmp, div, mul, scale, select, sub, t, un};
use super::shape::{broadcast_to, gather_op, reshape};
use crate::autograd::graph::{needs_grad, record, record_with, Grads, Saved};
use crate::autograd::mode;
use crate::bail;
use crate::core::{normalize_axis, DType, Result, Tensor};
use crate::ops::reduce::{self as rd, axes_of, ReduceOp};
use crate::ops::table::{BinaryOp, UnaryOp};

fn one(g: Grads) -> Tensor {
    g.into_iter().next().flatten().expect("one output")
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// The shape of a reduction's result with kept dims.
fn kept(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect()
}

/// A reduction's result (or its gradient) with the reduced axes as size-1 dims.
fn unsqueeze_back(g: &Tensor, shape: &[usize], axes: &[usize]) -> Result<Tensor> {
    reshape(g, &dims(&kept(shape, axes)))
}

/// A reduction's gradient spread back over the input's shape.
fn expand_back(g: &Tensor, shape: &[usize], axes: &[usize]) -> Result<Tensor> {
    broadcast_to(&unsqueeze_back(g, shape, axes)?, shape)
}

fn any(mask: &Tensor) -> Result<bool> {
    let r = rd::reduce(ReduceOp::Any, mask, None, false, None)?;
    // `item` reads a GPU result back.
    Ok(crate::ops::copy::item(&r)?.to_i64() != 0)
}

fn count(shape: &[usize], axes: &[usize]) -> f64 {
    axes.iter().map(|&a| shape[a]).product::<usize>() as f64
}

/// `sum`, differentiable.
pub fn sum(x: &Tensor, axes: Option<&[i64]>, keepdims: bool, dtype: Option<DType>) -> Result<Tensor> {
    reduce(ReduceOp::Sum, x, axes, keepdims, dtype)
}

/// `sum`/`prod`/`max`/`min`/`all`/`any`; the float ones are differentiable.
pub fn reduce(op: ReduceOp, x: &Tensor, axes: Option<&[i64]>, keepdims: bool, dtype: Option<DType>) -> Result<Tensor> {
    let r = rd::reduce(op, x, axes, keepdims, dtype)?;
    if !(needs_grad(&[x]) && r.dtype().is_float()) {
        return Ok(r);
    }
    let ax = axes_of(x.ndim(), axes)?;
    let shape = x.shape().to_vec();
    match op {
        ReduceOp::Sum => record(
            "SumBackward",
            &[x],
            &[&r],
            Box::new(move |g: Grads| Ok(vec![Some(expand_back(&one(g), &shape, &ax)?)])),
        ),
        ReduceOp::Prod => {
            let sx = Saved::input(x);
            record_with("ProdBackward", &[x], &[&r], |node| {
                let sr = Saved::output(&r, node, 0);
                Box::new(move |g: Grads| {
                    let (x, r) = (sx.get()?, sr.get()?);
                    let g = expand_back(&one(g), &shape, &ax)?;
                    Ok(vec![Some(mul(&g, &prod_others(&x, &r, &shape, &ax)?)?)])
                })
            })
        }
        ReduceOp::Max | ReduceOp::Min => {
            let sx = Saved::input(x);
            record_with(if op == ReduceOp::Max { "MaxBackward" } else { "MinBackward" }, &[x], &[&r], |node| {
                let sr = Saved::output(&r, node, 0);
                Box::new(move |g: Grads| {
                    // Ties share the gradient evenly (PyTorch's amax/amin rule).
                    let (x, r) = (sx.get()?, sr.get()?);
                    let hit = cmp(BinaryOp::Eq, t(&x), t(&unsqueeze_back(&r, &shape, &ax)?.detach()))?;
                    let hitf = crate::ops::copy::astype(&hit, x.dtype())?;
                    let n = rd::reduce(ReduceOp::Sum, &hitf, Some(&dims(&ax)), true, None)?;
                    let share = div(&hitf, &n)?;
                    Ok(vec![Some(mul(&expand_back(&one(g), &shape, &ax)?, &share)?)])
                })
            })
        }
        ReduceOp::All | ReduceOp::Any => {}
    }
    Ok(r)
}

/// For each element, the product of the other elements of its reduction group; exact
/// with zeros (one zero: only it gets the product of the rest; two: all zero).
fn prod_others(x: &Tensor, r: &Tensor, shape: &[usize], ax: &[usize]) -> Result<Tensor> {
    let axes = dims(ax);
    let zero = cmp(BinaryOp::Eq, t(x), c(0.0))?;
    let rk = unsqueeze_back(r, shape, ax)?;
    let no_zero = !any(&zero)?;
    let safe_x = select(&zero, c(1.0), t(x))?;
    if no_zero {
        return div(&rk, &safe_x);
    }
    let nz_prod = reduce(ReduceOp::Prod, &safe_x, Some(&axes), true, None)?;
    // Counted in int32: GPU tensors hold no int64.
    let zc = rd::reduce(ReduceOp::Sum, &zero, Some(&axes), true, Some(DType::I32))?;
    let one_zero = cmp(BinaryOp::Eq, t(&zc), c(1.0))?;
    let none = cmp(BinaryOp::Eq, t(&zc), c(0.0))?;
    let at_zero = cmp(BinaryOp::LogicalAnd, t(&one_zero), t(&zero))?;
    let nz_all = broadcast_to(&nz_prod, shape)?;
    // Beside a lone zero z, the product of the others is z * nz_prod / x: 0, but with
    // create_graph it is spelled out so that its derivative in z (nz_prod / x) is right.
    let beside = if mode::is_enabled() {
        if any(&cmp(BinaryOp::Ge, t(&zc), c(2.0))?)? {
            bail!(Runtime, "double backward through prod of a reduction group with two or more zeros is not supported");
        }
        let zf = crate::ops::copy::astype(&zero, x.dtype())?;
        let z = broadcast_to(&sum(&mul(x, &zf)?, Some(&axes), true, None)?, shape)?;
        t(&div(&mul(&z, &nz_all)?, &safe_x)?)
    } else {
        c(0.0)
    };
    let lone = select(&at_zero, t(&nz_all), beside)?;
    select(&broadcast_to(&none, shape)?, t(&div(&rk, &safe_x)?), t(&lone))
}

/// `mean`, differentiable.
pub fn mean(x: &Tensor, axes: Option<&[i64]>, keepdims: bool) -> Result<Tensor> {
    let r = rd::mean(x, axes, keepdims)?;
    if needs_grad(&[x]) && r.dtype().is_float() {
        let ax = axes_of(x.ndim(), axes)?;
        let shape = x.shape().to_vec();
        let n = count(&shape, &ax);
        record(
            "MeanBackward",
            &[x],
            &[&r],
            Box::new(move |g: Grads| Ok(vec![Some(scale(&expand_back(&one(g), &shape, &ax)?, 1.0 / n)?)])),
        );
    }
    Ok(r)
}

/// `var` (`std` when `root`), differentiable.
pub fn var(x: &Tensor, axes: Option<&[i64]>, correction: f64, keepdims: bool, root: bool) -> Result<Tensor> {
    let r = if root { rd::std(x, axes, correction, keepdims)? } else { rd::var(x, axes, correction, keepdims)? };
    if !(needs_grad(&[x]) && r.dtype().is_float()) {
        return Ok(r);
    }
    let ax = axes_of(x.ndim(), axes)?;
    let shape = x.shape().to_vec();
    let n = count(&shape, &ax) - correction;
    let sx = Saved::input(x);
    let axes_v = dims(&ax);
    record_with(if root { "StdBackward" } else { "VarBackward" }, &[x], &[&r], |node| {
        let sr = Saved::output(&r, node, 0);
        Box::new(move |g: Grads| {
            let x = sx.get()?;
            let centred = sub(&x, &mean(&x, Some(&axes_v), true)?)?;
            let g = expand_back(&one(g), &shape, &ax)?;
            let d = if root {
                // d std = (x - mean) / (n * std)
                div(&centred, &scale(&expand_back(&sr.get()?, &shape, &ax)?, n)?)?
            } else {
                scale(&centred, 2.0 / n)?
            };
            Ok(vec![Some(mul(&g, &d)?)])
        })
    });
    Ok(r)
}

/// `logsumexp`, differentiable (gradient: softmax of the inputs).
pub fn logsumexp(x: &Tensor, axes: Option<&[i64]>, keepdims: bool) -> Result<Tensor> {
    let r = rd::logsumexp(x, axes, keepdims)?;
    if needs_grad(&[x]) && r.dtype().is_float() {
        let ax = axes_of(x.ndim(), axes)?;
        let shape = x.shape().to_vec();
        let sx = Saved::input(x);
        record_with("LogsumexpBackward", &[x], &[&r], |node| {
            let sr = Saved::output(&r, node, 0);
            Box::new(move |g: Grads| {
                let x = sx.get()?;
                let p = un(UnaryOp::Exp, &sub(&x, &expand_back(&sr.get()?, &shape, &ax)?)?)?;
                Ok(vec![Some(mul(&expand_back(&one(g), &shape, &ax)?, &p)?)])
            })
        });
    }
    Ok(r)
}

/// `softmax` / `log_softmax` along `axis`, differentiable.
pub fn softmax(x: &Tensor, axis: i64, log: bool) -> Result<Tensor> {
    let r = rd::softmax(x, axis, log)?;
    if needs_grad(&[x]) && r.dtype().is_float() {
        let a = [normalize_axis(axis, x.ndim().max(1))? as i64];
        let a = if x.ndim() == 0 { None } else { Some(a) };
        record_with(if log { "LogSoftmaxBackward" } else { "SoftmaxBackward" }, &[x], &[&r], |node| {
            let sy = Saved::output(&r, node, 0);
            Box::new(move |g: Grads| {
                let (g, y) = (one(g), sy.get()?);
                let ax = a.as_ref().map(|v| &v[..]);
                let gx = if log {
                    // g - softmax * sum(g)
                    let s = sum(&g, ax, true, None)?;
                    sub(&g, &mul(&un(UnaryOp::Exp, &y)?, &s)?)?
                } else {
                    // y * (g - sum(g * y))
                    let s = sum(&mul(&g, &y)?, ax, true, None)?;
                    mul(&y, &sub(&g, &s)?)?
                };
                Ok(vec![Some(gx)])
            })
        });
    }
    Ok(r)
}

fn flip(x: &Tensor, axis: i64) -> Result<Tensor> {
    gather_op(x, "FlipBackward", Arc::new(move |t: &Tensor| t.flip(&[axis])))
}

/// `cumulative_sum` / `cumulative_prod`, differentiable.
pub fn cumulative(x: &Tensor, axis: Option<i64>, prod: bool, dtype: Option<DType>) -> Result<Tensor> {
    if !(needs_grad(&[x]) && x.dtype().is_float()) {
        return rd::cumulative(x, axis, prod, dtype);
    }
    let (src, a) = match axis {
        None => (reshape(x, &[-1])?, 0i64),
        Some(a) => (x.clone(), normalize_axis(a, x.ndim())? as i64),
    };
    let src = match dtype {
        Some(d) if d != src.dtype() => super::shape::astype(&src, d)?,
        _ => src,
    };
    let r = rd::cumulative(&src, Some(a), prod, None)?;
    if !r.dtype().is_float() {
        return Ok(r);
    }
    let sx = Saved::input(&src);
    record_with(if prod { "CumprodBackward" } else { "CumsumBackward" }, &[&src], &[&r], |node| {
        let sy = Saved::output(&r, node, 0);
        Box::new(move |g: Grads| {
            let g = one(g);
            // Reversed running sum: sum over j >= i.
            let rev = |v: &Tensor| flip(&cumulative(&flip(v, a)?, Some(a), false, None)?, a);
            if !prod {
                return Ok(vec![Some(rev(&g)?)]);
            }
            let (x, y) = (sx.get()?, sy.get()?);
            let zero = cmp(BinaryOp::Eq, t(&x), c(0.0))?;
            let any_zero = any(&zero)?;
            if !any_zero {
                return Ok(vec![Some(div(&rev(&mul(&g, &y)?)?, &x)?)]);
            }
            if mode::is_enabled() {
                bail!(Runtime, "double backward through cumulative_prod of a tensor containing zeros is not supported");
            }
            Ok(vec![Some(cumprod_grad_with_zeros(&x, &g, a as usize)?)])
        })
    });
    Ok(r)
}

/// Exact cumprod gradient with zeros: `dx_i = prod_{k<i} x_k * S_i` where
/// `S_i = g_i + x_{i+1} * S_{i+1}` (no division), per line along `axis`, in float64.
fn cumprod_grad_with_zeros(x: &Tensor, g: &Tensor, axis: usize) -> Result<Tensor> {
    if x.device().is_gpu() {
        // The float64 line walk runs on the host; the gradient goes back to x's device.
        let on_cpu = crate::ops::copy::on_cpu;
        let r = cumprod_grad_with_zeros(&on_cpu(x)?, &on_cpu(g)?, axis)?;
        return crate::ops::copy::to_device(&r, x.device());
    }
    let nd = x.ndim();
    let mut perm: Vec<i64> = (0..nd as i64).filter(|&d| d != axis as i64).collect();
    perm.push(axis as i64);
    let to64 = |v: &Tensor| -> Result<Tensor> {
        crate::ops::copy::contiguous_copy(&crate::ops::copy::astype(&v.permute(&perm)?, DType::F64)?)
    };
    let (xs, gs) = (to64(x)?, to64(&g.broadcast_to(x.shape())?)?);
    let n = x.shape()[axis];
    let total = xs.numel();
    let out = Tensor::zeros(xs.shape(), DType::F64)?;
    if n > 0 {
        // SAFETY: three fresh contiguous float64 tensors of `total` elements.
        let (xv, gv, ov) = unsafe {
            (
                std::slice::from_raw_parts(xs.data_ptr() as *const f64, total),
                std::slice::from_raw_parts(gs.data_ptr() as *const f64, total),
                std::slice::from_raw_parts_mut(out.data_ptr() as *mut f64, total),
            )
        };
        for ((xl, gl), ol) in xv.chunks(n).zip(gv.chunks(n)).zip(ov.chunks_mut(n)) {
            let mut s = 0.0;
            for i in (0..n).rev() {
                s = gl[i] + if i + 1 < n { xl[i + 1] * s } else { 0.0 };
                ol[i] = s;
            }
            let mut left = 1.0;
            for i in 0..n {
                ol[i] *= left;
                left *= xl[i];
            }
        }
    }
    let mut inv = vec![0i64; nd];
    for (i, &p) in perm.iter().enumerate() {
        inv[p as usize] = i as i64;
    }
    crate::ops::copy::astype(&out.permute(&inv)?, x.dtype())
}
