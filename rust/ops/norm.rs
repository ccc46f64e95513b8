//! Fused batch normalisation over `(N, C, *)`: per-channel statistics, the normalised
//! affine output and the running-statistics update in one call, and the training
//! gradient (input, weight, bias) in one more. Statistics accumulate in float64.

use rayon::prelude::*;

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::ops::copy::{astype, contiguous, to_f64_vec};
use crate::ops::float_io::{compute_copy, slice, Real};

/// `x` viewed as `outer` batches by `channels` by `inner` positions.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub outer: usize,
    pub channels: usize,
    pub inner: usize,
}

impl Dims {
    pub fn of(name: &str, x: &Tensor) -> Result<Dims> {
        crate::ops::device::cpu_only(name, &[x])?;
        let s = x.shape();
        if s.len() < 2 {
            bail!(Value, "{name}: expected an (N, C, *) input, got shape {s:?}");
        }
        Ok(Dims { outer: s[0], channels: s[1], inner: s[2..].iter().product() })
    }
    /// Values per channel.
    pub fn count(&self) -> usize {
        self.outer * self.inner
    }
    fn at(&self, n: usize, c: usize) -> usize {
        (n * self.channels + c) * self.inner
    }
}

fn per_channel<R: Send>(d: Dims, f: impl Fn(usize) -> R + Send + Sync) -> Vec<R> {
    if d.channels > 1 && d.count() * d.channels >= crate::cpu::PARALLEL_MIN {
        (0..d.channels).into_par_iter().map(f).collect()
    } else {
        (0..d.channels).map(f).collect()
    }
}

fn stats<T: Real>(x: &[T], d: Dims) -> Vec<(f64, f64)> {
    per_channel(d, |c| {
        let m = d.count() as f64;
        let mut s = 0.0;
        for n in 0..d.outer {
            s += x[d.at(n, c)..d.at(n, c) + d.inner].iter().map(|v| v.f64()).sum::<f64>();
        }
        let mean = s / m;
        let mut q = 0.0;
        for n in 0..d.outer {
            q += x[d.at(n, c)..d.at(n, c) + d.inner].iter().map(|v| (v.f64() - mean).powi(2)).sum::<f64>();
        }
        (mean, q / m)
    })
}

/// Per-channel batch mean and biased variance of `x` `(N, C, *)`.
pub fn batch_stats(x: &Tensor) -> Result<(Vec<f64>, Vec<f64>)> {
    let d = Dims::of("batch_norm", x)?;
    if d.count() == 0 {
        bail!(Value, "batch_norm: no values per channel in an input of shape {:?}", x.shape());
    }
    let xc = compute_copy(x)?;
    let st = match xc.dtype() {
        DType::F64 => stats(unsafe { slice::<f64>(&xc) }, d),
        _ => stats(unsafe { slice::<f32>(&xc) }, d),
    };
    Ok(st.into_iter().unzip())
}

fn channel_values(name: &str, t: Option<&Tensor>, c: usize, default: f64) -> Result<Vec<f64>> {
    match t {
        None => Ok(vec![default; c]),
        Some(t) if t.shape() == [c] => {
            crate::ops::device::cpu_only("batch_norm", &[t])?;
            to_f64_vec(t)
        }
        Some(t) => bail!(Value, "batch_norm: {name} must have shape ({c},), got {:?}", t.shape()),
    }
}

/// `(x - mean) * invstd * w + b` per channel, in `x`'s dtype.
pub fn normalize(x: &Tensor, mean: &[f64], invstd: &[f64], w: Option<&Tensor>, b: Option<&Tensor>) -> Result<Tensor> {
    let d = Dims::of("batch_norm", x)?;
    let (wv, bv) = (channel_values("weight", w, d.channels, 1.0)?, channel_values("bias", b, d.channels, 0.0)?);
    let xc = compute_copy(x)?;
    let out = Tensor::for_overwrite(x.shape(), xc.dtype())?;
    fn run<T: Real>(x: &[T], out: &Tensor, d: Dims, scale: &[f64], shift: &[f64]) {
        let dst = crate::cpu::SendPtr(out.data_ptr() as *mut T);
        per_channel(d, |c| {
            for n in 0..d.outer {
                let at = d.at(n, c);
                for (k, v) in x[at..at + d.inner].iter().enumerate() {
                    // SAFETY: each channel's elements are written by one task.
                    unsafe { *dst.get().add(at + k) = T::of(v.f64() * scale[c] + shift[c]) };
                }
            }
        });
    }
    // y = x * (invstd * w) + (b - mean * invstd * w)
    let scale: Vec<f64> = (0..d.channels).map(|c| invstd[c] * wv[c]).collect();
    let shift: Vec<f64> = (0..d.channels).map(|c| bv[c] - mean[c] * scale[c]).collect();
    match xc.dtype() {
        DType::F64 => run(unsafe { slice::<f64>(&xc) }, &out, d, &scale, &shift),
        _ => run(unsafe { slice::<f32>(&xc) }, &out, d, &scale, &shift),
    }
    astype(&out, x.dtype())
}

/// Errors unless `r` can hold running statistics for `c` channels.
pub fn check_running(r: &Tensor, c: usize) -> Result<()> {
    crate::ops::device::cpu_only("batch_norm", &[r])?;
    if r.shape() != [c] || !r.dtype().is_float() {
        bail!(
            Value,
            "batch_norm: running statistics must be floating-point tensors of shape ({c},), got {} {:?}",
            r.dtype(),
            r.shape()
        );
    }
    Ok(())
}

/// `r = (1 - momentum) * r + momentum * v`, in place, for a floating-point `r` (any
/// layout; the blend is computed in float64 and rounded once to `r`'s dtype).
pub fn blend_into(r: &Tensor, v: &[f64], momentum: f64) -> Result<()> {
    check_running(r, v.len())?;
    r.check_writable()?;
    let old = to_f64_vec(r)?;
    let new: Vec<f64> = old.iter().zip(v).map(|(o, x)| (1.0 - momentum) * o + momentum * x).collect();
    crate::ops::copy::assign(r, &Tensor::from_vec(&new, &[v.len()])?)
}

/// The training-mode gradient: `(gx, gw, gb)` from the output gradient `gy`, with
/// `xhat = (x - mean) * invstd`: `gb = sum gy`, `gw = sum gy * xhat`,
/// `gx = w * invstd / M * (M * gy - gb - xhat * gw)`.
pub fn backward_training(
    x: &Tensor,
    gy: &Tensor,
    mean: &[f64],
    invstd: &[f64],
    w: Option<&Tensor>,
) -> Result<(Tensor, Vec<f64>, Vec<f64>)> {
    let d = Dims::of("batch_norm_backward", x)?;
    let wv = channel_values("weight", w, d.channels, 1.0)?;
    let xc = compute_copy(x)?;
    let gc = contiguous(&astype(gy, xc.dtype())?)?;
    let out = Tensor::for_overwrite(x.shape(), xc.dtype())?;
    fn run<T: Real>(
        x: &[T],
        g: &[T],
        out: &Tensor,
        d: Dims,
        mean: &[f64],
        invstd: &[f64],
        wv: &[f64],
    ) -> Vec<(f64, f64)> {
        let dst = crate::cpu::SendPtr(out.data_ptr() as *mut T);
        per_channel(d, |c| {
            let (mu, is) = (mean[c], invstd[c]);
            let (mut gb, mut gw) = (0.0, 0.0);
            for n in 0..d.outer {
                let at = d.at(n, c);
                for k in at..at + d.inner {
                    let gv = g[k].f64();
                    gb += gv;
                    gw += gv * (x[k].f64() - mu) * is;
                }
            }
            let m = d.count() as f64;
            let k1 = wv[c] * is / m;
            for n in 0..d.outer {
                let at = d.at(n, c);
                for k in at..at + d.inner {
                    let xhat = (x[k].f64() - mu) * is;
                    // SAFETY: each channel's elements are written by one task.
                    unsafe { *dst.get().add(k) = T::of(k1 * (m * g[k].f64() - gb - xhat * gw)) };
                }
            }
            (gw, gb)
        })
    }
    let sums = match xc.dtype() {
        DType::F64 => run(unsafe { slice::<f64>(&xc) }, unsafe { slice::<f64>(&gc) }, &out, d, mean, invstd, &wv),
        _ => run(unsafe { slice::<f32>(&xc) }, unsafe { slice::<f32>(&gc) }, &out, d, mean, invstd, &wv),
    };
    let (gw, gb) = sums.into_iter().unzip();
    Ok((astype(&out, x.dtype())?, gw, gb))
}
