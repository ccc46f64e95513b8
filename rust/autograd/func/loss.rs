//! Differentiable fused losses.

use std::sync::Arc;

use super::elementwise::{mul, scale, sub};
use super::reduce::softmax;
use super::shape::reshape;
use crate::autograd::graph::{needs_grad, record, Grads, Saved};
use crate::autograd::mode;
use crate::core::{Result, Tensor};
use crate::ops::copy::{astype, to_device, to_f64_vec};
use crate::ops::loss::{self as raw, Reduction, Targets};

/// `F.cross_entropy` with integer class targets, differentiable in the logits. The
/// backward is one fused pass; under `create_graph` it is composed from differentiable
/// ops instead (`g * (A * softmax(x) - B)`), so second derivatives work too.
pub fn cross_entropy(x: &Tensor, t: Targets) -> Result<Tensor> {
    if x.device().is_gpu() {
        return cross_entropy_gpu(x, t);
    }
    let (y, lse) = raw::cross_entropy(x, &t)?;
    if needs_grad(&[x]) {
        let sx = Saved::input(x);
        let (t, lse) = (Arc::new(t), Arc::new(lse));
        record(
            "CrossEntropyLossBackward",
            &[x],
            &[&y],
            Box::new(move |g: Grads| {
                let g = g.into_iter().next().flatten().expect("one output");
                let x = sx.get()?;
                let gx = if mode::is_enabled() {
                    composed_grad(&x, &t, &g)?
                } else {
                    raw::cross_entropy_backward(&x, &t, &lse, &to_f64_vec(&g)?)?
                };
                Ok(vec![Some(gx)])
            }),
        );
    }
    Ok(y)
}

/// The same on a GPU: the logsumexp stays on the device between forward and backward,
/// and the incoming gradient is read there too (no readback in the training loop).
fn cross_entropy_gpu(x: &Tensor, t: Targets) -> Result<Tensor> {
    let (y, lse) = raw::cross_entropy_gpu(x, &t)?;
    if needs_grad(&[x]) {
        let sx = Saved::input(x);
        let t = Arc::new(t);
        record(
            "CrossEntropyLossBackward",
            &[x],
            &[&y],
            Box::new(move |g: Grads| {
                let g = g.into_iter().next().flatten().expect("one output");
                let x = sx.get()?;
                let gx = if mode::is_enabled() {
                    composed_grad(&x, &t, &g)?
                } else {
                    raw::cross_entropy_backward_gpu(&x, &t, &lse, &g)?
                };
                Ok(vec![Some(gx)])
            }),
        );
    }
    Ok(y)
}

fn composed_grad(x: &Tensor, t: &Targets, g: &Tensor) -> Result<Tensor> {
    let cd = usize::from(x.ndim() >= 2);
    let (c, s) = (t.classes, t.inner);
    let rows = t.class.len();
    // A per sample (class dim kept as 1), B per element, both constants.
    let mut keep = x.shape().to_vec();
    keep[cd] = 1;
    let a: Vec<f64> = (0..rows).map(|i| raw::coef_a(t, i)).collect();
    let mut b = vec![0.0; x.numel()];
    for i in 0..rows {
        let (n, j) = (i / s, i % s);
        for k in 0..c {
            b[(n * c + k) * s + j] = raw::coef_b(t, i, k);
        }
    }
    let a = to_device(&astype(&Tensor::from_vec(&a, &keep)?, x.dtype())?, x.device())?;
    let b = to_device(&astype(&Tensor::from_vec(&b, x.shape())?, x.dtype())?, x.device())?;
    let upstream = match t.reduction {
        Reduction::None => reshape(g, &keep.iter().map(|&d| d as i64).collect::<Vec<_>>())?,
        Reduction::Sum => g.clone(),
        Reduction::Mean => {
            let total: f64 = t.class.iter().flatten().map(|&y| t.weight[y]).sum();
            scale(g, 1.0 / total)?
        }
    };
    let p = softmax(x, cd as i64, false)?;
    mul(&upstream, &sub(&mul(&a, &p)?, &b)?)
}
