//! Matrix products. float32/float64 go to our BLIS-style kernels (`super::gemm`) on
//! AVX2+FMA CPUs, and to the `gemm` crate elsewhere (AVX-512, which that crate has
//! kernels for, non-x86 and old x86 CPUs) and for very narrow products; integers use a
//! blocked i-k-j loop whose inner loop vectorises. Operands are read through their strides.

use super::num::Num;

/// A strided matrix view: pointer to element (0, 0), row stride, column stride.
#[derive(Clone, Copy)]
pub struct Mat<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// `c = a @ b` for an `m x k` by `k x n` product; `c` is written (not accumulated).
///
/// # Safety
/// The views must address valid `m x k`, `k x n` and `m x n` matrices, `c` writable and
/// not overlapping the inputs.
#[allow(clippy::too_many_arguments)] // BLAS's shape: sizes, then each operand with its strides
pub unsafe fn gemm_float<T: 'static + Copy + Num>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    c_rs: isize,
    c_cs: isize,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            for j in 0..n {
                *c.offset(i as isize * c_rs + j as isize * c_cs) = T::zero();
            }
        }
        return;
    }
    if super::gemm::try_gemm(m, n, k, a, b, c, c_rs, c_cs, threads) {
        return;
    }
    let par = if threads > 1 && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (zero, one) = (T::zero(), T::from_f64(1.0));
    gemm::gemm(
        m, n, k, c, c_cs, c_rs, false, a.ptr, a.cs, a.rs, b.ptr, b.cs, b.rs, zero, one, false, false, false, par,
    );
}

/// Integer (and bool) products with numpy's wrapping arithmetic.
///
/// # Safety
/// As for [`gemm_float`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_int<T: Num>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    c_rs: isize,
    c_cs: isize,
) {
    let mut row = vec![T::zero(); n];
    for i in 0..m {
        row.iter_mut().for_each(|v| *v = T::zero());
        for p in 0..k {
            let av = *a.ptr.offset(i as isize * a.rs + p as isize * a.cs);
            let brow = b.ptr.offset(p as isize * b.rs);
            for (j, acc) in row.iter_mut().enumerate() {
                *acc = T::add(*acc, T::mul(av, *brow.offset(j as isize * b.cs)));
            }
        }
        for (j, v) in row.iter().enumerate() {
            *c.offset(i as isize * c_rs + j as isize * c_cs) = *v;
        }
    }
}
