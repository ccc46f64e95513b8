//! Reductions over any set of axes. The input is walked in its own memory order; each
//! line either folds into one output element (output stride 0: a sum of a contiguous run,
//! vectorised with several accumulators) or accumulates elementwise into a row of outputs
//! (output stride 1: `sum(axis=0)` adds whole rows). Large reductions split across
//! threads on a kept dim, or into per-thread partial outputs combined at the end.

use super::num::Num;
use super::strided::MultiPlan;
use super::{simd, SendPtr, PARALLEL_MIN};
use crate::core::Element;

/// An associative reduction with an identity.
pub trait Reducer<T: Copy>: Copy + Send + Sync {
    fn identity(self) -> T;
    fn combine(self, acc: T, x: T) -> T;
    /// Fold a contiguous slice (override for accuracy or speed).
    #[inline(always)]
    fn fold(self, xs: &[T]) -> T {
        let mut acc = self.identity();
        for &x in xs {
            acc = self.combine(acc, x);
        }
        acc
    }
}

/// Folds with `L` independent accumulators (so the loop vectorises), then combines them.
#[inline(always)]
fn lanes<T: Copy, const L: usize>(xs: &[T], id: T, f: impl Fn(T, T) -> T) -> T {
    let mut acc = [id; L];
    let mut it = xs.chunks_exact(L);
    for c in &mut it {
        for l in 0..L {
            acc[l] = f(acc[l], c[l]);
        }
    }
    let mut r = id;
    for a in acc {
        r = f(r, a);
    }
    for &x in it.remainder() {
        r = f(r, x);
    }
    r
}

/// The four primitive reductions, as types so each kernel is compiled for one of them.
#[derive(Clone, Copy, Default)]
pub struct Sum;
#[derive(Clone, Copy, Default)]
pub struct Prod;
/// Max/min start from the first element instead of an identity (see ops::reduce).
#[derive(Clone, Copy, Default)]
pub struct Max;
#[derive(Clone, Copy, Default)]
pub struct Min;

macro_rules! reducer {
    ($t:ty, $one:expr, $sum:expr) => {
        impl Reducer<$t> for Sum {
            #[inline(always)]
            fn identity(self) -> $t {
                <$t as Num>::zero()
            }
            #[inline(always)]
            fn combine(self, a: $t, x: $t) -> $t {
                <$t as Num>::add(a, x)
            }
            #[inline(always)]
            fn fold(self, xs: &[$t]) -> $t {
                $sum(xs)
            }
        }
        impl Reducer<$t> for Prod {
            #[inline(always)]
            fn identity(self) -> $t {
                $one
            }
            #[inline(always)]
            fn combine(self, a: $t, x: $t) -> $t {
                <$t as Num>::mul(a, x)
            }
            #[inline(always)]
            fn fold(self, xs: &[$t]) -> $t {
                lanes::<$t, 8>(xs, $one, <$t as Num>::mul)
            }
        }
        impl Reducer<$t> for Max {
            #[inline(always)]
            fn identity(self) -> $t {
                <$t as Num>::zero()
            }
            #[inline(always)]
            fn combine(self, a: $t, x: $t) -> $t {
                <$t as Num>::max(a, x)
            }
            #[inline(always)]
            fn fold(self, xs: &[$t]) -> $t {
                if xs.is_empty() {
                    self.identity()
                } else {
                    lanes::<$t, 8>(xs, xs[0], <$t as Num>::max)
                }
            }
        }
        impl Reducer<$t> for Min {
            #[inline(always)]
            fn identity(self) -> $t {
                <$t as Num>::zero()
            }
            #[inline(always)]
            fn combine(self, a: $t, x: $t) -> $t {
                <$t as Num>::min(a, x)
            }
            #[inline(always)]
            fn fold(self, xs: &[$t]) -> $t {
                if xs.is_empty() {
                    self.identity()
                } else {
                    lanes::<$t, 8>(xs, xs[0], <$t as Num>::min)
                }
            }
        }
    };
}

/// float32 sums: 16 lanes per block of 1024, blocks summed in float64 (accuracy close
/// to numpy's pairwise summation, at memory speed).
#[inline(always)]
fn sum_f32(xs: &[f32]) -> f32 {
    let mut total = 0f64;
    for block in xs.chunks(1024) {
        total += lanes::<f32, 16>(block, 0.0, |a, b| a + b) as f64;
    }
    total as f32
}

reducer!(f32, 1.0, sum_f32);
reducer!(f64, 1.0, |xs: &[f64]| lanes::<f64, 8>(xs, 0.0, |a, b| a + b));
reducer!(i64, 1, |xs: &[i64]| lanes::<i64, 8>(xs, 0, i64::wrapping_add));
reducer!(u64, 1, |xs: &[u64]| lanes::<u64, 8>(xs, 0, u64::wrapping_add));
reducer!(i32, 1, |xs: &[i32]| lanes::<i32, 8>(xs, 0, i32::wrapping_add));
reducer!(i16, 1, |xs: &[i16]| lanes::<i16, 8>(xs, 0, i16::wrapping_add));
reducer!(i8, 1, |xs: &[i8]| lanes::<i8, 8>(xs, 0, i8::wrapping_add));
reducer!(u32, 1, |xs: &[u32]| lanes::<u32, 8>(xs, 0, u32::wrapping_add));
reducer!(u16, 1, |xs: &[u16]| lanes::<u16, 8>(xs, 0, u16::wrapping_add));
reducer!(u8, 1, |xs: &[u8]| lanes::<u8, 8>(xs, 0, u8::wrapping_add));
reducer!(bool, true, |xs: &[bool]| xs.iter().any(|&b| b));
reducer!(half::f16, half::f16::ONE, |xs: &[half::f16]| xs
    .iter()
    .fold(half::f16::ZERO, |a, &b| <half::f16 as Num>::add(a, b)));
reducer!(half::bf16, half::bf16::ONE, |xs: &[half::bf16]| xs
    .iter()
    .fold(half::bf16::ZERO, |a, &b| <half::bf16 as Num>::add(a, b)));

struct ReduceLine<T, R> {
    n: usize,
    p: [*mut u8; 2],
    s: [isize; 2],
    r: R,
    _t: std::marker::PhantomData<T>,
}

impl<T: Copy, R: Reducer<T>> simd::Job for ReduceLine<T, R> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (n, s, r) = (self.n, self.s, self.r);
        let (x, o) = (self.p[0] as *const T, self.p[1] as *mut T);
        // SAFETY: the plan hands out valid line pointers and strides.
        unsafe {
            if s[1] == 0 {
                let v = if s[0] == 1 {
                    r.fold(std::slice::from_raw_parts(x, n))
                } else {
                    // Start from the first element: max/min have no identity.
                    let mut acc = *x;
                    for i in 1..n as isize {
                        acc = r.combine(acc, *x.offset(i * s[0]));
                    }
                    acc
                };
                *o = r.combine(*o, v);
            } else if s[0] == 1 && s[1] == 1 {
                let (xs, os) = (std::slice::from_raw_parts(x, n), std::slice::from_raw_parts_mut(o, n));
                for i in 0..n {
                    os[i] = r.combine(os[i], xs[i]);
                }
            } else {
                for i in 0..n as isize {
                    let q = o.offset(i * s[1]);
                    *q = r.combine(*q, *x.offset(i * s[0]));
                }
            }
        }
    }
}

/// Reduces `plan` (operands: [input, output], ordered by the input) into `out`, which
/// must already hold the identity. `out_len` is the output's element count (contiguous).
///
/// # Safety
/// `plan` must describe valid memory for `inp` and `out`.
pub unsafe fn reduce<T: Element, R: Reducer<T>>(plan: &MultiPlan<2>, inp: *const T, out: *mut T, out_len: usize, r: R) {
    let total = plan.numel();
    if total == 0 {
        return;
    }
    let line = move |n: usize, p: [*mut u8; 2], s: [isize; 2]| {
        simd::dispatch(ReduceLine { n, p, s, r, _t: std::marker::PhantomData::<T> })
    };
    let sizes = [size_of::<T>(); 2];
    let bases = [inp as *mut u8, out as *mut u8];
    let threads = rayon::current_num_threads();
    if total < PARALLEL_MIN || threads == 1 || plan.shape.is_empty() {
        return plan.run(0, plan.shape.first().copied().unwrap_or(1), bases, sizes, &line);
    }
    let d0 = plan.shape[0];
    if plan.strides[0][1] != 0 {
        // Dim 0 is kept: chunks write disjoint outputs.
        let chunk = d0.div_ceil(threads * 4).max(1);
        let (b0, b1) = (SendPtr(bases[0]), SendPtr(bases[1]));
        let line = &line;
        rayon::scope(|sc| {
            for lo in (0..d0).step_by(chunk) {
                sc.spawn(move |_| {
                    let (b0, b1) = (b0, b1);
                    plan.run(lo, (lo + chunk).min(d0), [b0.get(), b1.get()], sizes, line)
                });
            }
        });
        return;
    }
    // Dim 0 is reduced: one partial output per chunk, combined afterwards.
    let chunks = threads.min(d0);
    let per = d0.div_ceil(chunks);
    let mut partials: Vec<Vec<T>> = (0..chunks).map(|_| vec![r.identity(); out_len]).collect();
    let b0 = SendPtr(bases[0]);
    let line = &line;
    rayon::scope(|sc| {
        for (c, part) in partials.iter_mut().enumerate() {
            let lo = c * per;
            if lo >= d0 {
                break;
            }
            let pb = SendPtr(part.as_mut_ptr() as *mut u8);
            sc.spawn(move |_| {
                let (b0, pb) = (b0, pb);
                // A partial has the output's (contiguous) layout, so the plan's output
                // offsets apply to it unchanged.
                plan.run(lo, (lo + per).min(d0), [b0.get(), pb.get()], sizes, line)
            });
        }
    });
    for part in &partials {
        for (i, &v) in part.iter().enumerate() {
            *out.add(i) = r.combine(*out.add(i), v);
        }
    }
}
