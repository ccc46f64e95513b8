//! Elementwise kernels: one line loop with contiguous and broadcast fast paths, run inside
//! the SIMD trampoline, instantiated per op (so each loop body is a single expression that
//! LLVM vectorises) and per dtype.

use super::simd;

/// `out[i] = f(a[i], b[i])` along one line; strides in elements.
///
/// # Safety
/// Pointers and strides must address `n` valid elements each.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // three operands, each a pointer and a stride
pub unsafe fn binary_line<A: Copy, B: Copy, O: Copy>(
    n: usize,
    out: *mut O,
    so: isize,
    a: *const A,
    sa: isize,
    b: *const B,
    sb: isize,
    f: impl Fn(A, B) -> O,
) {
    if so == 1 && sa == 1 && sb == 1 {
        let (o, x, y) = (
            std::slice::from_raw_parts_mut(out, n),
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, n),
        );
        for i in 0..n {
            o[i] = f(x[i], y[i]);
        }
    } else if so == 1 && sa == 1 && sb == 0 {
        let (o, x, y) = (std::slice::from_raw_parts_mut(out, n), std::slice::from_raw_parts(a, n), *b);
        for i in 0..n {
            o[i] = f(x[i], y);
        }
    } else if so == 1 && sa == 0 && sb == 1 {
        let (o, x, y) = (std::slice::from_raw_parts_mut(out, n), *a, std::slice::from_raw_parts(b, n));
        for i in 0..n {
            o[i] = f(x, y[i]);
        }
    } else {
        for i in 0..n as isize {
            *out.offset(i * so) = f(*a.offset(i * sa), *b.offset(i * sb));
        }
    }
}

/// `out[i] = f(a[i])` along one line.
///
/// # Safety
/// As for [`binary_line`].
#[inline(always)]
pub unsafe fn unary_line<A: Copy, O: Copy>(
    n: usize,
    out: *mut O,
    so: isize,
    a: *const A,
    sa: isize,
    f: impl Fn(A) -> O,
) {
    if so == 1 && sa == 1 {
        let (o, x) = (std::slice::from_raw_parts_mut(out, n), std::slice::from_raw_parts(a, n));
        for i in 0..n {
            o[i] = f(x[i]);
        }
    } else {
        for i in 0..n as isize {
            *out.offset(i * so) = f(*a.offset(i * sa));
        }
    }
}

struct BinaryLine<A, B, O, F> {
    n: usize,
    p: [*mut u8; 3],
    s: [isize; 3],
    f: F,
    _t: std::marker::PhantomData<(A, B, O)>,
}

impl<A: Copy, B: Copy, O: Copy, F: Fn(A, B) -> O> simd::Job for BinaryLine<A, B, O, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (p, s) = (self.p, self.s);
        // SAFETY: the plan hands out valid line pointers and strides.
        unsafe { binary_line(self.n, p[0] as *mut O, s[0], p[1] as *const A, s[1], p[2] as *const B, s[2], self.f) }
    }
}

struct UnaryLine<A, O, F> {
    n: usize,
    p: [*mut u8; 2],
    s: [isize; 2],
    f: F,
    _t: std::marker::PhantomData<(A, O)>,
}

impl<A: Copy, O: Copy, F: Fn(A) -> O> simd::Job for UnaryLine<A, O, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (p, s) = (self.p, self.s);
        // SAFETY: the plan hands out valid line pointers and strides.
        unsafe { unary_line(self.n, p[0] as *mut O, s[0], p[1] as *const A, s[1], self.f) }
    }
}

/// Runs a binary op over a 3-operand plan (out, a, b).
///
/// # Safety
/// The plan and pointers must describe valid, non-aliasing output memory.
pub unsafe fn binary<A: Copy + Sync, B: Copy + Sync, O: Copy + Sync>(
    plan: &super::strided::MultiPlan<3>,
    out: *mut O,
    a: *const A,
    b: *const B,
    f: impl Fn(A, B) -> O + Sync + Copy,
) {
    let sizes = [size_of::<O>(), size_of::<A>(), size_of::<B>()];
    plan.for_each_line([out as *mut u8, a as *mut u8, b as *mut u8], sizes, |n, p, s| {
        simd::dispatch(BinaryLine { n, p, s, f, _t: std::marker::PhantomData::<(A, B, O)> })
    });
}

/// Runs a unary op over a 2-operand plan (out, a).
///
/// # Safety
/// As for [`binary`].
pub unsafe fn unary<A: Copy + Sync, O: Copy + Sync>(
    plan: &super::strided::MultiPlan<2>,
    out: *mut O,
    a: *const A,
    f: impl Fn(A) -> O + Sync + Copy,
) {
    plan.for_each_line([out as *mut u8, a as *mut u8], [size_of::<O>(), size_of::<A>()], |n, p, s| {
        simd::dispatch(UnaryLine { n, p, s, f, _t: std::marker::PhantomData::<(A, O)> })
    });
}

/// `out[i] = if c[i] { a[i] } else { b[i] }` over a 4-operand plan (out, cond, a, b).
///
/// # Safety
/// As for [`binary`].
pub unsafe fn select<T: Copy + Sync>(
    plan: &super::strided::MultiPlan<4>,
    out: *mut T,
    c: *const bool,
    a: *const T,
    b: *const T,
) {
    let sz = size_of::<T>();
    plan.for_each_line([out as *mut u8, c as *mut u8, a as *mut u8, b as *mut u8], [sz, 1, sz, sz], |n, p, s| {
        let (o, c, x, y) = (p[0] as *mut T, p[1] as *const bool, p[2] as *const T, p[3] as *const T);
        for i in 0..n as isize {
            *o.offset(i * s[0]) = if *c.offset(i * s[1]) { *x.offset(i * s[2]) } else { *y.offset(i * s[3]) };
        }
    });
}
