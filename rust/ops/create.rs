//! Creation: filled tensors, ranges, identity matrices and random draws.

use crate::bail;
use crate::core::{DType, Device, Element, Result, Scalar, Tensor};
use crate::cpu::fill::generate;
use crate::cpu::random::Generator;
use crate::ops::copy::fill;
use crate::with_dtype;

pub fn full(shape: &[usize], value: Scalar, dtype: DType) -> Result<Tensor> {
    let zero = match value {
        Scalar::Bool(b) => !b,
        Scalar::Int(i) => i == 0,
        Scalar::UInt(u) => u == 0,
        Scalar::Float(f) => f == 0.0 && f.is_sign_positive(),
    };
    if zero {
        return Tensor::zeros(shape, dtype);
    }
    let t = Tensor::for_overwrite(shape, dtype)?;
    fill(&t, value)?;
    Ok(t)
}

/// `full` on `device` (GPU tensors are filled by the fill shader, no upload).
pub fn full_on(shape: &[usize], value: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
    if device == Device::Cpu {
        return full(shape, value, dtype);
    }
    let t = Tensor::for_overwrite_on(shape, dtype, device)?;
    fill(&t, value)?;
    Ok(t)
}

/// numpy's `arange`: `ceil((stop - start) / step)` values `start + i * step`.
pub fn arange(start: Scalar, stop: Scalar, step: Scalar, dtype: DType) -> Result<Tensor> {
    arange_on(start, stop, step, dtype, Device::Cpu)
}

/// `arange` on `device` (the GPU computes the values in place with the arange shader).
pub fn arange_on(start: Scalar, stop: Scalar, step: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
    let (s, e, st) = (start.to_f64(), stop.to_f64(), step.to_f64());
    if st == 0.0 || !st.is_finite() || !s.is_finite() || !e.is_finite() {
        bail!(Value, "arange needs finite start/stop and a non-zero step, got ({s}, {e}, {st})");
    }
    let n = ((e - s) / st).ceil().max(0.0);
    if n > (isize::MAX as f64) / 8.0 {
        bail!(Value, "arange({s}, {e}, {st}) has too many elements");
    }
    let n = n as usize;
    if let Device::Gpu(i) = device {
        return crate::gpu::arange(start, step, n, dtype, i);
    }
    let t = Tensor::for_overwrite(&[n], dtype)?;
    let ints = !matches!(start, Scalar::Float(_)) && !matches!(step, Scalar::Float(_));
    with_dtype!(dtype, T => unsafe {
        if ints {
            let (s, st) = (start.to_i64(), step.to_i64());
            generate(t.data_ptr() as *mut T, n, |i| T::from_scalar(Scalar::Int(s.wrapping_add(st.wrapping_mul(i as i64)))))
        } else {
            generate(t.data_ptr() as *mut T, n, |i| T::from_f64(s + st * i as f64))
        }
    });
    Ok(t)
}

pub fn linspace(start: f64, stop: f64, num: usize, endpoint: bool, dtype: DType) -> Result<Tensor> {
    let t = Tensor::for_overwrite(&[num], dtype)?;
    let div = if endpoint { num.saturating_sub(1) } else { num };
    let step = if div > 0 { (stop - start) / div as f64 } else { 0.0 };
    with_dtype!(dtype, T => unsafe {
        generate(t.data_ptr() as *mut T, num, |i| {
            if endpoint && i + 1 == num && num > 1 { T::from_f64(stop) } else { T::from_f64(start + step * i as f64) }
        })
    });
    Ok(t)
}

pub fn eye(n: usize, m: usize, k: i64, dtype: DType) -> Result<Tensor> {
    let t = Tensor::zeros(&[n, m], dtype)?;
    fill(&t.diagonal(k, 0, 1)?, Scalar::Int(1))?;
    Ok(t)
}

pub enum Distribution {
    Uniform { low: f64, high: f64 },
    Normal { mean: f64, std: f64 },
    Integers { low: i64, high: i64 },
}

pub fn random(gen: &mut Generator, shape: &[usize], dist: Distribution, dtype: DType) -> Result<Tensor> {
    let t = Tensor::for_overwrite(shape, dtype)?;
    let n = t.numel();
    match dist {
        Distribution::Uniform { low, high } | Distribution::Normal { mean: low, std: high } if !dtype.is_float() => {
            bail!(Type, "random floats need a floating dtype, got {dtype} (bounds {low}, {high})")
        }
        Distribution::Uniform { low, high } => {
            with_dtype!(dtype, T => unsafe { gen.uniform(t.data_ptr() as *mut T, n, low, high) })
        }
        Distribution::Normal { mean, std } => {
            if std < 0.0 {
                bail!(Value, "normal: std must be non-negative, got {std}");
            }
            with_dtype!(dtype, T => unsafe { gen.normal(t.data_ptr() as *mut T, n, mean, std) })
        }
        Distribution::Integers { low, high } => {
            if high <= low {
                bail!(Value, "randint: high ({high}) must be greater than low ({low})");
            }
            with_dtype!(dtype, T => unsafe { gen.integers(t.data_ptr() as *mut T, n, low, high) })
        }
    }
    Ok(t)
}

/// Used by tests: values of a 1-D tensor as `T`.
pub fn values<T: Element>(t: &Tensor) -> Vec<T> {
    let c = crate::ops::copy::astype(t, T::DTYPE).expect("astype to an existing dtype");
    let p = c.data_ptr() as *const T;
    (0..c.numel()).map(|i| unsafe { *p.add(i) }).collect()
}
