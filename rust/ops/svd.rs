//! `svdvals`: the singular values of a batch of matrices (the last two axes), computed in
//! float64 by one-sided Jacobi (`cpu/svd.rs`) and returned in the input's float dtype.

use rayon::prelude::*;

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::ops::copy::astype;

/// Singular values of `x` (shape `(..., m, n)`), descending, shape `(..., min(m, n))`.
/// float32 and the half types are computed in float64 and cast back. Matrices holding
/// NaN or infinity give NaN values.
pub fn svdvals(x: &Tensor) -> Result<Tensor> {
    crate::ops::device::cpu_only("svdvals", &[x])?;
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
}
