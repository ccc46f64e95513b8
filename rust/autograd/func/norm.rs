//! Differentiable fused batch normalisation.

use std::sync::Arc;

use super::elementwise::{mul, scale, shift, sub, un};
use super::reduce::{mean, sum, var};
use super::shape::reshape;
use crate::autograd::graph::{needs_grad, record, Grads, Saved};
use crate::autograd::mode;
use crate::bail;
use crate::core::{Result, Tensor};
use crate::ops::copy::{astype, to_f64_vec};
use crate::ops::norm::{self as raw, Dims};
use crate::ops::table::UnaryOp;

/// Batch-norm options: `running` are the running mean and variance (updated in place
/// when training), `momentum` the weight of the new batch in that update.
pub struct BatchNorm<'a> {
    pub running: Option<(&'a Tensor, &'a Tensor)>,
    pub training: bool,
    pub momentum: f64,
    pub eps: f64,
}

/// PyTorch's `F.batch_norm`, differentiable in input, weight and bias. The training
/// gradient is one fused pass; under `create_graph` (and in eval mode) the backward is
/// composed from differentiable ops, so second derivatives work.
pub fn batch_norm(x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, o: &BatchNorm<'_>) -> Result<Tensor> {
    if x.device().is_gpu() {
        return super::norm_gpu::batch_norm(x, w, b, o);
    }
    let d = Dims::of("batch_norm", x)?;
    if !x.dtype().is_float() {
        bail!(Type, "batch_norm: expected a floating-point input, got {}", x.dtype());
    }
    let inv = |v: &[f64]| -> Vec<f64> { v.iter().map(|v| 1.0 / (v + o.eps).sqrt()).collect() };
    let (mu, invstd) = if o.training {
        if d.count() <= 1 {
            bail!(Value, "Expected more than 1 value per channel when training, got input size {:?}", x.shape());
        }
        let (mu, v) = raw::batch_stats(x)?;
        if let Some((rm, rv)) = o.running {
            // Both checked before either is written: an error leaves them as they were.
            raw::check_running(rm, d.channels)?;
            raw::check_running(rv, d.channels)?;
            let m = d.count() as f64;
            raw::blend_into(rm, &mu, o.momentum)?;
            raw::blend_into(rv, &v.iter().map(|v| v * m / (m - 1.0)).collect::<Vec<_>>(), o.momentum)?;
        }
        (mu, inv(&v))
    } else {
        let Some((rm, rv)) = o.running else {
            bail!(Value, "batch_norm: running_mean and running_var are needed when not training");
        };
        crate::ops::device::cpu_only("batch_norm", &[rm, rv])?;
        for (name, r) in [("running_mean", rm), ("running_var", rv)] {
            if r.shape() != [d.channels] {
                bail!(Value, "batch_norm: {name} must have shape ({},), got {:?}", d.channels, r.shape());
            }
        }
        (to_f64_vec(rm)?, inv(&to_f64_vec(rv)?))
    };
    let y = raw::normalize(x, &mu, &invstd, w, b)?;
    let inputs: Vec<&Tensor> = [Some(x), w, b].into_iter().flatten().collect();
    if !needs_grad(&inputs) {
        return Ok(y);
    }
    let want = [x.requires_grad(), w.is_some_and(Tensor::requires_grad), b.is_some_and(Tensor::requires_grad)];
    let (has_w, has_b, training, eps) = (w.is_some(), b.is_some(), o.training, o.eps);
    let (sx, sw) = (Saved::input(x), w.map(Saved::input));
    let (mu, invstd) = (Arc::new(mu), Arc::new(invstd));
    record(
        "NativeBatchNormBackward",
        &inputs,
        &[&y],
        Box::new(move |g: Grads| {
            let g = g.into_iter().next().flatten().expect("one output");
            let x = sx.get()?;
            let w = sw.as_ref().map(Saved::get).transpose()?;
            let (gx, gw, gb) = if training && !mode::is_enabled() {
                let (gx, gw, gb) = raw::backward_training(&x, &g, &mu, &invstd, w.as_ref())?;
                let dt = w.as_ref().map_or(x.dtype(), Tensor::dtype);
                let c = gw.len();
                (gx, astype(&Tensor::from_vec(&gw, &[c])?, dt)?, astype(&Tensor::from_vec(&gb, &[c])?, dt)?)
            } else {
                let c = mu.len();
                let consts = (Tensor::from_vec(&mu[..], &[c])?, Tensor::from_vec(&invstd[..], &[c])?);
                composed_grads(&x, &g, w.as_ref(), consts, training, eps)?
            };
            Ok(input_grads(&want, has_w, has_b, gx, gw, gb))
        }),
    );
    Ok(y)
}

/// The backward written with differentiable ops. In training the statistics are
/// recomputed from `x` (they depend on it); in eval they are the constants used,
/// `consts = (mean, invstd)` of shape (C,) (on `x`'s device, any float dtype).
pub(super) fn composed_grads(
    x: &Tensor,
    g: &Tensor,
    w: Option<&Tensor>,
    consts: (Tensor, Tensor),
    training: bool,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = consts.0.numel();
    let axes: Vec<i64> = std::iter::once(0).chain(2..x.ndim() as i64).collect();
    let mut view = vec![1i64; x.ndim()];
    view[1] = c as i64;
    let constant = |v: &Tensor| -> Result<Tensor> { astype(&v.reshape(&view)?, x.dtype()) };
    let (m_t, is_t) = if training {
        let m_t = mean(x, Some(&axes), true)?;
        let v_t = var(x, Some(&axes), 0.0, true, false)?;
        (m_t, un(UnaryOp::Rsqrt, &shift(&v_t, eps)?)?)
    } else {
        (constant(&consts.0)?, constant(&consts.1)?)
    };
    let xhat = mul(&sub(x, &m_t)?, &is_t)?;
    let gb = sum(g, Some(&axes), false, None)?;
    let gw = sum(&mul(g, &xhat)?, Some(&axes), false, None)?;
    let w_t = match w {
        Some(w) => reshape(w, &view)?,
        None => {
            crate::ops::create::full_on(&[c], crate::core::Scalar::Float(1.0), x.dtype(), x.device())?.reshape(&view)?
        }
    };
    let k = mul(&w_t, &is_t)?;
    let gx = if training {
        let m = (x.numel() / c.max(1)) as f64;
        let inner = sub(&sub(&scale(g, m)?, &reshape(&gb, &view)?)?, &mul(&xhat, &reshape(&gw, &view)?)?)?;
        mul(&scale(&k, 1.0 / m)?, &inner)?
    } else {
        mul(g, &k)?
    };
    Ok((gx, gw, gb))
}

/// The backward's outputs for (input, weight if given, bias if given), each only where
/// it was asked for.
pub(super) fn input_grads(
    want: &[bool],
    has_w: bool,
    has_b: bool,
    gx: Tensor,
    gw: Tensor,
    gb: Tensor,
) -> Vec<Option<Tensor>> {
    let mut out = vec![want[0].then_some(gx)];
    if has_w {
        out.push(want[1].then_some(gw));
    }
    if has_b {
        out.push(want[2].then_some(gb));
    }
    out
}
