//! Fused batch normalisation for GPU tensors (float32; float16 operands are widened
//! and results rounded back, as on the CPU): the kernels of
//! `gpu/backend/norm.rs` for the statistics, the running update, the output and the
//! training gradient; the composed backward of `norm.rs` under `create_graph` and in
//! eval mode, as on the CPU.

use crate::autograd::graph::{needs_grad, record, Grads, Saved};
use crate::autograd::mode;
use crate::bail;
use crate::core::{DType, Result, Scalar, Tensor};
use crate::ops::copy::{assign, contiguous};
use crate::ops::create::full_on;
use crate::ops::f16_gpu::{narrow, widen};
use crate::ops::manip::concat;

use super::norm::{composed_grads, input_grads, BatchNorm};

/// Errors unless `t` is a float32/float16 vector of `c` values (`what` names it).
fn check_channels(what: &str, t: &Tensor, c: usize) -> Result<()> {
    if t.shape() != [c] {
        bail!(Value, "batch_norm: {what} must have shape ({c},), got {:?}", t.shape());
    }
    if !matches!(t.dtype(), DType::F32 | DType::F16) {
        bail!(Type, "batch_norm on the GPU needs float32 or float16 {what}, got {}", t.dtype());
    }
    Ok(())
}

/// `(1 - momentum) * r + momentum * scale * stat[at..at + c]`, in place: directly for a
/// contiguous float32 `r`, else through a float32 copy written back (float16, views).
fn update_running(r: &Tensor, stat: &Tensor, at: usize, scale: f64, momentum: f64) -> Result<()> {
    if r.dtype() == DType::F32 && r.is_contiguous() {
        return crate::gpu::batch_norm_running(r, stat, at, scale, momentum);
    }
    let acc = crate::ops::copy::astype(r, DType::F32)?;
    crate::gpu::batch_norm_running(&acc, stat, at, scale, momentum)?;
    assign(r, &acc)
}

/// The first `len` values of the 1-D `t` from `start`, as a view.
fn part(t: &Tensor, start: usize, len: usize) -> Result<Tensor> {
    Ok(t.with_layout(t.layout().narrow(0, start as i64, len)?))
}

pub fn batch_norm(x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, o: &BatchNorm<'_>) -> Result<Tensor> {
    let s = x.shape();
    if s.len() < 2 {
        bail!(Value, "batch_norm: expected an (N, C, *) input, got shape {s:?}");
    }
    if !matches!(x.dtype(), DType::F32 | DType::F16) {
        bail!(Type, "batch_norm on the GPU needs a float32 or float16 input, got {}", x.dtype());
    }
    let mut all: Vec<&Tensor> = [Some(x), w, b].into_iter().flatten().collect();
    if let Some((rm, rv)) = o.running {
        all.extend([rm, rv]);
    }
    crate::ops::device::common_device("batch_norm", &all)?;
    let c = s[1];
    let count = s[0] * s[2..].iter().product::<usize>();
    for (what, t) in [("weight", w), ("bias", b)] {
        if let Some(t) = t {
            check_channels(what, t, c)?;
        }
    }
    let xc = contiguous(&widen(x)?)?; // the kernels read x dense from its offset
    let stat = if o.training {
        if count <= 1 {
            bail!(Value, "Expected more than 1 value per channel when training, got input size {s:?}");
        }
        let stat = crate::gpu::batch_norm_stats(&xc, o.eps)?;
        if let Some((rm, rv)) = o.running {
            // Both checked before either is written: an error leaves them as they were.
            for (what, r) in [("running_mean", rm), ("running_var", rv)] {
                check_channels(what, r, c)?;
                r.check_writable()?;
            }
            let m = count as f64;
            update_running(rm, &stat, 0, 1.0, o.momentum)?;
            // The running variance takes the unbiased estimate, as PyTorch's.
            update_running(rv, &stat, 2 * c, m / (m - 1.0), o.momentum)?;
        }
        stat
    } else {
        let Some((rm, rv)) = o.running else {
            bail!(Value, "batch_norm: running_mean and running_var are needed when not training");
        };
        check_channels("running_mean", rm, c)?;
        check_channels("running_var", rv, c)?;
        crate::gpu::batch_norm_eval_stats(&contiguous(&widen(rm)?)?, &contiguous(&widen(rv)?)?, o.eps)?
    };
    let ones = |v: f64| full_on(&[c], Scalar::Float(v), DType::F32, x.device());
    let aff = concat(
        &[w.map_or_else(|| ones(1.0), |t| widen(&t.detach()))?, b.map_or_else(|| ones(0.0), |t| widen(&t.detach()))?],
        0,
    )?;
    let y = narrow(crate::gpu::batch_norm_normalize(&xc, &stat, &aff)?, x.dtype())?;
    let inputs: Vec<&Tensor> = [Some(x), w, b].into_iter().flatten().collect();
    if !needs_grad(&inputs) {
        return Ok(y);
    }
    let want = [x.requires_grad(), w.is_some_and(Tensor::requires_grad), b.is_some_and(Tensor::requires_grad)];
    let (has_w, has_b, training, eps) = (w.is_some(), b.is_some(), o.training, o.eps);
    let (x_dtype, w_dtype, b_dtype) =
        (x.dtype(), w.map_or(DType::F32, Tensor::dtype), b.map_or(DType::F32, Tensor::dtype));
    let (sx, sw) = (Saved::input(x), w.map(Saved::input));
    record(
        "NativeBatchNormBackward",
        &inputs,
        &[&y],
        Box::new(move |g: Grads| {
            let g = g.into_iter().next().flatten().expect("one output");
            let x = sx.get()?;
            let w = sw.as_ref().map(Saved::get).transpose()?;
            let (gx, gw, gb) = if training && !mode::is_enabled() {
                let (x32, g32) = (contiguous(&widen(&x)?)?, contiguous(&widen(&g)?)?);
                let (gx, sums) = crate::gpu::batch_norm_backward(&x32, &g32, &stat, &aff)?;
                (narrow(gx, x_dtype)?, narrow(part(&sums, 0, c)?, w_dtype)?, narrow(part(&sums, c, c)?, b_dtype)?)
            } else {
                let consts = (part(&stat, 0, c)?, part(&stat, c, c)?);
                composed_grads(&x, &g, w.as_ref(), consts, training, eps)?
            };
            Ok(input_grads(&want, has_w, has_b, gx, gw, gb))
        }),
    );
    Ok(y)
}
