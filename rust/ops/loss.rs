//! Fused cross-entropy over integer class targets: log-softmax, the picked term, the
//! label-smoothing term, class weights, `ignore_index` and the reduction in one pass over
//! the logits, and a one-pass gradient `g * (A * softmax - B)`.
//!
//! Semantics are PyTorch's `F.cross_entropy`: the class dim is 1 (0 for a 1-D input),
//! 'mean' divides by the summed weight of the non-ignored targets, and the smoothing
//! term is `-sum_c w_c * log p_c` mixed in with weight `label_smoothing / C`.

use crate::ops::f16_gpu::{narrow, widen};
use rayon::prelude::*;

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::ops::copy::{astype, contiguous, contiguous_copy, on_cpu, to_device};
use crate::ops::float_io::{compute_copy, slice, Real};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        Ok(match s {
            "none" => Reduction::None,
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            other => bail!(Value, "{other} is not a valid value for reduction ('none', 'mean' or 'sum')"),
        })
    }
}

/// Everything but the logits, checked and flattened.
#[derive(Clone, Debug)]
pub struct Targets {
    /// One class per sample (`N * S` of them, `S` the product of the trailing dims);
    /// `None` where the target is `ignore_index`.
    pub class: Vec<Option<usize>>,
    /// Per-class weights (all 1 without `weight`).
    pub weight: Vec<f64>,
    pub smoothing: f64,
    pub reduction: Reduction,
    /// Logits layout: `outer` samples by `classes` by `inner` positions.
    pub outer: usize,
    pub classes: usize,
    pub inner: usize,
    /// The sum of the class weights.
    pub w_sum: f64,
    /// The shape of a per-sample result (the input's shape without the class dim).
    pub sample_shape: Vec<usize>,
}

impl Targets {
    /// The 'mean' divisor: the summed weight of the non-ignored targets.
    fn total_weight(&self) -> f64 {
        self.class.iter().flatten().map(|&c| self.weight[c]).sum()
    }
}

/// Validates `input` (float logits) and `target` (integer classes) the way PyTorch does.
pub fn targets(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    smoothing: f64,
    reduction: Reduction,
) -> Result<Targets> {
    let mut operands = vec![input, target];
    operands.extend(weight);
    crate::ops::device::common_device("cross_entropy", &operands)?;
    let shape = input.shape();
    if shape.is_empty() {
        bail!(Value, "cross_entropy: input must have a class dim, got a 0-d tensor");
    }
    if !input.dtype().is_float() {
        bail!(Type, "cross_entropy: input must be floating point, got {}", input.dtype());
    }
    if !target.dtype().is_int() {
        bail!(Type, "cross_entropy: class targets must be integers, got {}", target.dtype());
    }
    if !(0.0..=1.0).contains(&smoothing) {
        bail!(Value, "label_smoothing must be between 0.0 and 1.0. Got: {smoothing}");
    }
    let cd = usize::from(shape.len() >= 2);
    let classes = shape[cd];
    let sample_shape: Vec<usize> = shape.iter().enumerate().filter(|&(d, _)| d != cd).map(|(_, &s)| s).collect();
    if target.shape() != sample_shape.as_slice() {
        if shape.len() >= 2 && !target.shape().is_empty() && target.shape()[0] != shape[0] {
            bail!(
                Value,
                "Expected input batch_size ({}) to match target batch_size ({}).",
                shape[0],
                target.shape()[0]
            );
        }
        bail!(Value, "Expected target size {sample_shape:?}, got {:?}", target.shape());
    }
    let weight = match weight {
        Some(w) => {
            if w.shape() != [classes] {
                bail!(
                    Value,
                    "cross_entropy: weight tensor should be defined either for all {classes} classes or no classes \
                     but got weight tensor of shape: {:?}",
                    w.shape()
                );
            }
            crate::ops::copy::to_f64_vec(w)?
        }
        None => vec![1.0; classes],
    };
    // Validated on the host, as PyTorch's CPU path does; on a GPU that is one small
    // readback of the class indices per call.
    let t = astype(&contiguous(&on_cpu(target)?)?, DType::I64)?;
    // SAFETY: t is a contiguous int64 tensor.
    let tv: &[i64] =
        if t.numel() == 0 { &[] } else { unsafe { std::slice::from_raw_parts(t.data_ptr() as *const i64, t.numel()) } };
    let mut class = Vec::with_capacity(tv.len());
    for &c in tv {
        if c == ignore_index {
            class.push(None);
        } else if c < 0 || c as usize >= classes {
            bail!(Index, "Target {c} is out of bounds.");
        } else {
            class.push(Some(c as usize));
        }
    }
    let outer = if cd == 1 { shape[0] } else { 1 };
    let inner: usize = shape.get(2..).map_or(1, |s| s.iter().product());
    let w_sum = weight.iter().sum();
    Ok(Targets { class, weight, smoothing, reduction, outer, classes, inner, w_sum, sample_shape })
}

/// Per-sample `(loss, logsumexp)`; the loss is before the reduction's divisor.
fn forward_rows<T: Real>(x: &[T], t: &Targets) -> (Vec<f64>, Vec<f64>) {
    let (c, s) = (t.classes, t.inner);
    let eps_c = t.smoothing / c as f64;
    let w_sum = t.w_sum;
    let one = |i: usize| -> (f64, f64) {
        let (n, j) = (i / s, i % s);
        let row = |k: usize| x[(n * c + k) * s + j].f64();
        let m = (0..c).map(row).fold(f64::NEG_INFINITY, f64::max);
        let m = if m.is_finite() { m } else { 0.0 };
        let lse = m + (0..c).map(|k| (row(k) - m).exp()).sum::<f64>().ln();
        let Some(y) = t.class[i] else { return (0.0, lse) };
        let mut loss = (1.0 - t.smoothing) * t.weight[y] * (lse - row(y));
        if t.smoothing > 0.0 {
            // -sum_k w_k (x_k - lse) = lse * W - sum_k w_k x_k
            let wx: f64 = (0..c).map(|k| t.weight[k] * row(k)).sum();
            loss += eps_c * (lse * w_sum - wx);
        }
        (loss, lse)
    };
    let rows = t.outer * s;
    if rows * c >= crate::cpu::PARALLEL_MIN {
        (0..rows).into_par_iter().map(one).unzip()
    } else {
        (0..rows).map(one).unzip()
    }
}

/// The loss (reduced as asked, in the input's float dtype) and the per-sample
/// logsumexp the gradient needs.
pub fn cross_entropy(input: &Tensor, t: &Targets) -> Result<(Tensor, Vec<f64>)> {
    let x = compute_copy(input)?;
    let (losses, lse) = match x.dtype() {
        DType::F64 => forward_rows(unsafe { slice::<f64>(&x) }, t),
        _ => forward_rows(unsafe { slice::<f32>(&x) }, t),
    };
    let out = match t.reduction {
        Reduction::None => Tensor::from_vec(&losses, &t.sample_shape)?,
        Reduction::Sum => Tensor::from_vec(&[losses.iter().sum::<f64>()], &[])?,
        Reduction::Mean => Tensor::from_vec(&[losses.iter().sum::<f64>() / t.total_weight()], &[])?,
    };
    Ok((astype(&out, input.dtype())?, lse))
}

/// Per-sample coefficients of the gradient `g_i * (A_i * p_ic - B_ic)`: `A_i` and the
/// upstream scale of each sample (`grad` per sample for 'none', else the one value,
/// divided by the total weight for 'mean').
pub fn sample_scale(t: &Targets, grad: &[f64]) -> Vec<f64> {
    let rows = t.class.len();
    match t.reduction {
        Reduction::None => grad.to_vec(),
        Reduction::Sum => vec![grad[0]; rows],
        Reduction::Mean => vec![grad[0] / t.total_weight(); rows],
    }
}

/// `A_i = (1-e) w_y + e/C * W` (0 for an ignored sample).
pub fn coef_a(t: &Targets, i: usize) -> f64 {
    t.class[i].map_or(0.0, |y| (1.0 - t.smoothing) * t.weight[y] + t.smoothing / t.classes as f64 * t.w_sum)
}

/// `B_ic = (1-e) w_y [c == y] + e/C * w_c` (0 for an ignored sample).
pub fn coef_b(t: &Targets, i: usize, c: usize) -> f64 {
    t.class[i].map_or(0.0, |y| {
        let hit = if c == y { (1.0 - t.smoothing) * t.weight[y] } else { 0.0 };
        hit + t.smoothing / t.classes as f64 * t.weight[c]
    })
}

/// The gradient of [`cross_entropy`] with respect to the logits, in one pass.
pub fn cross_entropy_backward(input: &Tensor, t: &Targets, lse: &[f64], grad: &[f64]) -> Result<Tensor> {
    let x = compute_copy(input)?;
    let scale = sample_scale(t, grad);
    let out = Tensor::for_overwrite(input.shape(), x.dtype())?;
    match x.dtype() {
        DType::F64 => backward_rows::<f64>(unsafe { slice::<f64>(&x) }, &out, t, lse, &scale),
        _ => backward_rows::<f32>(unsafe { slice::<f32>(&x) }, &out, t, lse, &scale),
    }
    astype(&out, input.dtype())
}

fn backward_rows<T: Real>(x: &[T], out: &Tensor, t: &Targets, lse: &[f64], scale: &[f64]) {
    let (c, s) = (t.classes, t.inner);
    let dst = crate::cpu::SendPtr(out.data_ptr() as *mut T);
    let one = |i: usize| {
        let (n, j) = (i / s, i % s);
        // An ignored sample's gradient is 0, as in PyTorch, even when 'mean' divides by a
        // total weight of 0 (scale inf).
        let (a, g) = (coef_a(t, i), if t.class[i].is_some() { scale[i] } else { 0.0 });
        for k in 0..c {
            let at = (n * c + k) * s + j;
            let p = (x[at].f64() - lse[i]).exp();
            // SAFETY: each (sample, class) element is written by exactly one task.
            unsafe { *dst.get().add(at) = T::of(g * (a * p - coef_b(t, i, k))) };
        }
    };
    let rows = t.outer * s;
    if rows * c >= crate::cpu::PARALLEL_MIN {
        (0..rows).into_par_iter().for_each(one);
    } else {
        (0..rows).for_each(one);
    }
}

/// `x` dense from element 0 of its buffer, the layout the GPU kernels index.
fn dense_from_start(x: &Tensor) -> Result<Tensor> {
    if x.is_contiguous() && x.layout().offset == 0 {
        Ok(x.clone())
    } else {
        contiguous_copy(x)
    }
}

/// The targets as device tensors: one int32 class per sample (-1 where ignored) and the
/// float32 class weights.
fn device_targets(t: &Targets, device: crate::core::Device) -> Result<(Tensor, Tensor)> {
    let cls: Vec<i32> = t.class.iter().map(|c| c.map_or(-1, |c| c as i32)).collect();
    let w: Vec<f32> = t.weight.iter().map(|&w| w as f32).collect();
    Ok((
        to_device(&Tensor::from_vec(&cls, &[cls.len()])?, device)?,
        to_device(&Tensor::from_vec(&w, &[w.len()])?, device)?,
    ))
}

/// [`cross_entropy`] for GPU logits (float32, or float16 computed in float32 and
/// rounded once, as on the CPU): the reduced loss and the per-sample logsumexp (a
/// float32 device tensor) for the backward.
pub fn cross_entropy_gpu(input: &Tensor, t: &Targets) -> Result<(Tensor, Tensor)> {
    use crate::ops::elementwise::{binary, Operand};
    let x = dense_from_start(&widen(input)?)?;
    let (cls, w) = device_targets(t, input.device())?;
    let (losses, lse) = crate::gpu::cross_entropy_rows(&x, &cls, &w, t.inner, t.smoothing, t.w_sum)?;
    let out = match t.reduction {
        Reduction::None => losses.reshape(&t.sample_shape.iter().map(|&d| d as i64).collect::<Vec<_>>())?,
        Reduction::Sum => crate::ops::reduce::reduce(crate::ops::reduce::ReduceOp::Sum, &losses, None, false, None)?,
        Reduction::Mean => {
            let sum = crate::ops::reduce::reduce(crate::ops::reduce::ReduceOp::Sum, &losses, None, false, None)?;
            binary(
                crate::ops::table::BinaryOp::Mul,
                Operand::Tensor(sum),
                Operand::Scalar(crate::core::Scalar::Float(1.0 / t.total_weight())),
                None,
            )?
        }
    };
    Ok((narrow(out, input.dtype())?, lse))
}

/// The gradient of [`cross_entropy_gpu`] with respect to the logits, in one kernel;
/// `grad` is the loss's incoming gradient (on the same GPU).
pub fn cross_entropy_backward_gpu(input: &Tensor, t: &Targets, lse: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let x = dense_from_start(&widen(input)?)?;
    let (cls, w) = device_targets(t, input.device())?;
    let g = dense_from_start(&astype(grad, DType::F32)?)?;
    let (stride, scale) = match t.reduction {
        Reduction::None => (1, 1.0),
        Reduction::Sum => (0, 1.0),
        Reduction::Mean => (0, 1.0 / t.total_weight()),
    };
    let gx = crate::gpu::cross_entropy_grad(&x, &cls, &w, lse, &g, stride, scale, t.inner, t.smoothing, t.w_sum)?;
    narrow(gx, input.dtype())
}
