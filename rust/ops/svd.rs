//! `svdvals`: the singular values of a batch of matrices (the last two axes), computed in
//! float64 by one-sided Jacobi (`cpu/svd.rs`) and returned in the input's float dtype.
//! GPU tensors (float32) run the same algorithm in float32 (`shaders/svd.wgsl`).

use crate::ops::f16_gpu::{narrow, through_f32, widen};
use rayon::prelude::*;

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::ops::copy::astype;

/// Singular values of `x` (shape `(..., m, n)`), descending, shape `(..., min(m, n))`.
/// float32 and the half types are computed in float64 and cast back. Matrices holding
/// NaN or infinity give NaN values.
pub fn svdvals(x: &Tensor) -> Result<Tensor> {
    if x.ndim() < 2 {
        bail!(
            Value,
            "svdvals: expected at least 2 dimensions (a matrix or a batch of matrices), got shape {:?}",
            x.shape()
        );
    }
    if !x.dtype().is_float() {
        bail!(Type, "svdvals: expected a floating-point tensor, got {}", x.dtype());
    }
    if x.device().is_gpu() {
        return through_f32(x, crate::gpu::svdvals);
    }
    let nd = x.ndim();
    let (m, n) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let k = m.min(n);
    let len = m.max(n);
    let batch: usize = x.shape()[..nd - 2].iter().product();
    let mut oshape = x.shape()[..nd - 2].to_vec();
    oshape.push(k);
    let mut out = vec![0.0f64; batch * k];
    if batch * k > 0 {
        let a = astype(x, DType::F64)?; // a fresh contiguous copy
                                        // SAFETY: `a` is a fresh contiguous float64 tensor of batch * m * n elements.
        let data = unsafe { std::slice::from_raw_parts(a.data_ptr() as *const f64, batch * m * n) };
        let one = |(mat, o): (&[f64], &mut [f64])| {
            // The vectors the rotations act on: the rows when there are fewer rows than
            // columns (already contiguous), else the columns (gathered).
            let mut w = if m < n {
                mat.to_vec()
            } else {
                let mut w = vec![0.0; m * n];
                for i in 0..m {
                    for j in 0..n {
                        w[j * m + i] = mat[i * n + j];
                    }
                }
                w
            };
            crate::cpu::svd::singular_values(&mut w, k, len, o);
        };
        let work = batch * k * k * len;
        if batch > 1 && work >= crate::cpu::PARALLEL_MIN {
            data.par_chunks(m * n).zip(out.par_chunks_mut(k)).for_each(one);
        } else {
            data.chunks(m * n).zip(out.chunks_mut(k)).for_each(one);
        }
    }
    let res = Tensor::from_vec(&out, &oshape)?;
    if x.dtype() == DType::F64 {
        Ok(res)
    } else {
        astype(&res, x.dtype())
    }
}

/// `svdvals` with the singular vectors its gradient needs, all float64: `(s, u, v)` of
/// shapes `(..., k)`, `(..., m, k)` and `(..., n, k)` with `x = u diag(s) v^T` (`k =
/// min(m, n)`). A vector belonging to a zero singular value is left zero. On the GPU
/// the three are float32 GPU tensors.
pub fn svd_factors(x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let nd = x.ndim();
    if nd < 2 || !x.dtype().is_float() {
        // svdvals reports the problem.
        svdvals(x)?;
    }
    if x.device().is_gpu() {
        let (u, s, vh) = crate::gpu::svd_factors(&widen(x)?)?;
        return Ok((narrow(u, x.dtype())?, narrow(s, x.dtype())?, narrow(vh, x.dtype())?));
    }
    let (m, n) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let (k, len) = (m.min(n), m.max(n));
    let batch: usize = x.shape()[..nd - 2].iter().product();
    let (mut s, mut u, mut v) = (vec![0.0f64; batch * k], vec![0.0f64; batch * m * k], vec![0.0f64; batch * n * k]);
    let a = astype(x, DType::F64)?;
    // SAFETY: `a` is a fresh contiguous float64 tensor of batch * m * n elements.
    let data: &[f64] = if a.numel() == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(a.data_ptr() as *const f64, batch * m * n) }
    };
    let stride = len + k;
    for b in 0..batch * usize::from(k > 0) {
        let mat = &data[b * m * n..(b + 1) * m * n];
        // Vectors: the columns of x (m >= n) or its rows (m < n), each followed by the
        // identity row that the rotations turn into the other side's singular vectors.
        let mut w = vec![0.0; k * stride];
        for i in 0..m {
            for j in 0..n {
                let (vec, at) = if m >= n { (j, i) } else { (i, j) };
                w[vec * stride + at] = mat[i * n + j];
            }
        }
        for i in 0..k {
            w[i * stride + len + i] = 1.0;
        }
        let (sb, ub, vb) =
            (&mut s[b * k..(b + 1) * k], &mut u[b * m * k..(b + 1) * m * k], &mut v[b * n * k..(b + 1) * n * k]);
        let order = crate::cpu::svd::jacobi(&mut w, k, len, stride, sb);
        for (col, &src) in order.iter().enumerate() {
            let sigma = sb[col];
            let vec = &w[src * stride..(src + 1) * stride];
            // The long side: the normalised vector; the short side: the rotations.
            let (long, long_len, short) = if m >= n { (&mut *ub, m, &mut *vb) } else { (&mut *vb, n, &mut *ub) };
            if sigma > 0.0 && sigma.is_finite() {
                for r in 0..long_len {
                    long[r * k + col] = vec[r] / sigma;
                }
            }
            for r in 0..k {
                short[r * k + col] = vec[len + r];
            }
        }
    }
    let lead = &x.shape()[..nd - 2];
    let shape = |tail: &[usize]| [lead, tail].concat();
    Ok((
        Tensor::from_vec(&s, &shape(&[k]))?,
        Tensor::from_vec(&u, &shape(&[m, k]))?,
        Tensor::from_vec(&v, &shape(&[n, k]))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::copy::to_f64_vec;

    #[test]
    fn batched_wide_and_tall() {
        // Two 2x3 matrices: [[3, 0, 0], [0, 4, 0]] and [[0, 0, 2], [1, 0, 0]].
        let x = Tensor::from_vec(&[3.0f32, 0., 0., 0., 4., 0., 0., 0., 2., 1., 0., 0.], &[2, 2, 3]).unwrap();
        let s = svdvals(&x).unwrap();
        assert_eq!(s.shape(), &[2, 2]);
        assert_eq!(s.dtype(), DType::F32);
        assert_eq!(to_f64_vec(&s).unwrap(), vec![4., 3., 2., 1.]);
        let t = x.matrix_transpose().unwrap();
        assert_eq!(to_f64_vec(&svdvals(&t).unwrap()).unwrap(), vec![4., 3., 2., 1.]);
    }

    #[test]
    fn empty_and_errors() {
        let x = Tensor::zeros(&[3, 0, 4], DType::F64).unwrap();
        assert_eq!(svdvals(&x).unwrap().shape(), &[3, 0]);
        assert!(svdvals(&Tensor::zeros(&[4], DType::F64).unwrap()).is_err());
        assert!(svdvals(&Tensor::zeros(&[2, 2], DType::I64).unwrap()).is_err());
    }

    #[test]
    fn factors_reconstruct_tall_wide_and_batched_matrices() {
        for shape in [vec![4usize, 3], vec![2, 5], vec![3, 3, 2], vec![2, 2, 4]] {
            let n: usize = shape.iter().product();
            let vals: Vec<f64> = (0..n).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0 + 0.1 * i as f64).collect();
            let x = Tensor::from_vec(&vals, &shape).unwrap();
            let (s, u, v) = svd_factors(&x).unwrap();
            let (sv, uv, vv) = (to_f64_vec(&s).unwrap(), to_f64_vec(&u).unwrap(), to_f64_vec(&v).unwrap());
            let nd = shape.len();
            let (m, c) = (shape[nd - 2], shape[nd - 1]);
            let k = m.min(c);
            for b in 0..n / (m * c) {
                for i in 0..m {
                    for j in 0..c {
                        let r: f64 =
                            (0..k).map(|t| uv[b * m * k + i * k + t] * sv[b * k + t] * vv[b * c * k + j * k + t]).sum();
                        assert!((r - vals[b * m * c + i * c + j]).abs() < 1e-12, "{shape:?} ({i}, {j}): {r}");
                    }
                }
            }
            assert_eq!(to_f64_vec(&svdvals(&x).unwrap()).unwrap(), sv);
        }
    }
}
