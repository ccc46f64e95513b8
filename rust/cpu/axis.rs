//! Kernels that work along one axis at a time: arg-reductions, softmax, cumulative ops.
//! `along` visits every line of the input along `axis` (strided, in place) together with
//! the matching line (or single element) of the output, in parallel over lines.

use super::strided::MultiPlan;
use super::{simd, vmath};
use crate::core::{Element, Tensor};

/// Calls `f(x, x_stride, o, o_stride, n)` for every line along `axis` (`n` = axis length).
/// When `out` has the axis removed (arg-reductions), `o_stride` is 0.
///
/// # Safety
/// `f` must stay within the `n` elements of each line.
pub unsafe fn along<T: Copy, O: Copy>(
    x: &Tensor,
    out: &Tensor,
    axis: usize,
    f: impl Fn(*const T, isize, *mut O, isize, usize) + Sync,
) {
    let n = x.shape()[axis];
    let sx = x.strides()[axis];
    let (mut shape, mut xs) = (x.shape().to_vec(), x.strides().to_vec());
    shape.remove(axis);
    xs.remove(axis);
    let (os, so) = if out.ndim() == x.ndim() {
        let mut os = out.strides().to_vec();
        let so = os.remove(axis);
        (os, so)
    } else {
        (out.strides().to_vec(), 0)
    };
    let plan = MultiPlan::new(&shape, [&os, &xs]);
    let sizes = [size_of::<O>(), size_of::<T>()];
    plan.for_each_line([out.data_ptr(), x.data_ptr()], sizes, |m, p, s| {
        for i in 0..m as isize {
            let o = (p[0] as *mut O).offset(i * s[0]);
            let xi = (p[1] as *const T).offset(i * s[1]);
            f(xi, sx, o, so, n);
        }
    });
}

/// Index of the first maximum (`max = true`) or minimum; a NaN wins at its first position.
///
/// # Safety
/// `x` must address `n > 0` elements with stride `s`.
#[inline(always)]
pub unsafe fn arg_extreme<T: Element + PartialOrd + crate::cpu::num::Num>(
    x: *const T,
    s: isize,
    n: usize,
    max: bool,
) -> i64 {
    let mut best = *x;
    let mut at = 0usize;
    if best.is_nan() {
        return 0;
    }
    for i in 1..n {
        let v = *x.offset(i as isize * s);
        if v.is_nan() {
            return i as i64;
        }
        if (max && v > best) || (!max && v < best) {
            best = v;
            at = i;
        }
    }
    at as i64
}

/// The float operations softmax needs: float32 uses the vectorisable approximations,
/// float64 libm.
pub trait SoftmaxFloat:
    Copy + PartialOrd + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self> + std::ops::AddAssign
{
    const NEG_INF: Self;
    const ZERO: Self;
    const ONE: Self;
    fn exp_(self) -> Self;
    fn ln_(self) -> Self;
    fn is_nan_(self) -> bool;
    fn max_(self, o: Self) -> Self;
    fn div_(self, o: Self) -> Self;
}

macro_rules! softmax_float {
    ($t:ty, $exp:expr, $ln:expr) => {
        impl SoftmaxFloat for $t {
            const NEG_INF: Self = <$t>::NEG_INFINITY;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn exp_(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln_(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn is_nan_(self) -> bool {
                self.is_nan()
            }
            #[inline(always)]
            fn max_(self, o: Self) -> Self {
                self.max(o)
            }
            #[inline(always)]
            fn div_(self, o: Self) -> Self {
                self / o
            }
        }
    };
}
softmax_float!(f32, vmath::exp, vmath::log);
softmax_float!(f64, f64::exp, f64::ln);

/// Softmax (or log-softmax) of one line, max-shifted for stability.
///
/// # Safety
/// Both lines must address `n` elements.
pub unsafe fn softmax<T: SoftmaxFloat>(x: *const T, sx: isize, o: *mut T, so: isize, n: usize, log: bool) {
    simd::dispatch(SoftmaxLine { x, sx, o, so, n, log })
}

struct SoftmaxLine<T> {
    x: *const T,
    sx: isize,
    o: *mut T,
    so: isize,
    n: usize,
    log: bool,
}

impl<T: SoftmaxFloat> simd::Job for SoftmaxLine<T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        // SAFETY: the caller of `softmax` guarantees both lines.
        unsafe { softmax_body(self.x, self.sx, self.o, self.so, self.n, self.log) }
    }
}

#[inline(always)]
unsafe fn softmax_body<T: SoftmaxFloat>(x: *const T, sx: isize, o: *mut T, so: isize, n: usize, log: bool) {
    let mut m = T::NEG_INF;
    for i in 0..n as isize {
        m = m.max_(*x.offset(i * sx));
    }
    if m == T::NEG_INF || m.is_nan_() {
        m = T::ZERO;
    }
    let mut sum = T::ZERO;
    if sx == 1 && so == 1 {
        let (xs, os) = (std::slice::from_raw_parts(x, n), std::slice::from_raw_parts_mut(o, n));
        for i in 0..n {
            let e = (xs[i] - m).exp_();
            os[i] = e;
            sum += e;
        }
        if log {
            // (x - m) - log(sum): subtracting m first keeps precision when |m| is large.
            let l = sum.ln_();
            for i in 0..n {
                os[i] = (xs[i] - m) - l;
            }
        } else {
            let inv = T::ONE.div_(sum);
            for v in os.iter_mut() {
                *v = *v * inv;
            }
        }
    } else {
        for i in 0..n as isize {
            sum += (*x.offset(i * sx) - m).exp_();
        }
        let (l, inv) = (sum.ln_(), T::ONE.div_(sum));
        for i in 0..n as isize {
            let v = *x.offset(i * sx);
            *o.offset(i * so) = if log { (v - m) - l } else { (v - m).exp_() * inv };
        }
    }
}

/// Running sum or product along a line.
///
/// # Safety
/// Both lines must address `n` elements.
#[inline(always)]
pub unsafe fn cumulative<T: crate::cpu::num::Num>(x: *const T, sx: isize, o: *mut T, so: isize, n: usize, prod: bool) {
    let mut acc = if prod { T::from_f64(1.0) } else { T::zero() };
    for i in 0..n as isize {
        let v = *x.offset(i * sx);
        acc = if prod { T::mul(acc, v) } else { T::add(acc, v) };
        *o.offset(i * so) = acc;
    }
}

/// numpy's sort order: NaNs last (`total_cmp` would also order -0.0 before 0.0 and split
/// NaN signs, which numpy does not).
#[inline(always)]
pub fn cmp_nan_last<T: PartialOrd + crate::cpu::num::Num>(a: &T, b: &T) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Stable sort of one line: writes sorted values to `o` (if not null) and the source
/// positions to `idx` (if not null); `descending` reverses the order (stably).
///
/// # Safety
/// Lines must address `n` elements.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sort_line<T: Copy + PartialOrd + crate::cpu::num::Num>(
    x: *const T,
    sx: isize,
    o: *mut T,
    so: isize,
    idx: *mut i64,
    si: isize,
    n: usize,
    descending: bool,
) {
    let mut perm: Vec<usize> = (0..n).collect();
    let at = |i: usize| *x.offset(i as isize * sx);
    if descending {
        // Stable, NaNs first (they count as the largest values, as in PyTorch).
        perm.sort_by(|&i, &j| cmp_nan_last(&at(j), &at(i)));
    } else {
        perm.sort_by(|&i, &j| cmp_nan_last(&at(i), &at(j)));
    }
    for (k, &p) in perm.iter().enumerate() {
        if !o.is_null() {
            *o.offset(k as isize * so) = at(p);
        }
        if !idx.is_null() {
            *idx.offset(k as isize * si) = p as i64;
        }
    }
}
