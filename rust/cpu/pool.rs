//! Pooling kernels over a batch of contiguous planes `(B, D, H, W)`. 1-D and 2-D pooling
//! run as 3-D pooling with size-1 leading axes, so one kernel per op serves 1, 2 and 3
//! spatial dims. The window of every output position is precomputed per axis ([`Win`]):
//! max, average and adaptive pooling differ only in how those tables are built.
//! Forward passes split output rows across threads; backward passes (scatters whose
//! windows overlap) split planes.

use std::ops::{Add, AddAssign, Div, Mul, Sub};

use half::{bf16, f16};
use rayon::prelude::*;

use super::PARALLEL_MIN;
use crate::core::Element;

/// Arithmetic the float kernels need: float32 and float64 (half types compute in float32).
pub trait Real:
    Element + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + AddAssign
{
    const ZERO: Self;
    const ONE: Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// What max pooling needs of an element: an order, the smallest value and NaN detection
/// (a NaN in the window wins, as in PyTorch).
pub trait PoolMax: Copy + PartialOrd + Send + Sync {
    const LOWEST: Self;
    fn nan(self) -> bool;
}

macro_rules! pool_max_int {
    ($($t:ty),*) => {$(
        impl PoolMax for $t {
            const LOWEST: Self = <$t>::MIN;
            #[inline(always)]
            fn nan(self) -> bool {
                false
            }
        }
    )*};
}
pool_max_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl PoolMax for bool {
    const LOWEST: Self = false;
    #[inline(always)]
    fn nan(self) -> bool {
        false
    }
}

macro_rules! pool_max_float {
    ($($t:ty),*) => {$(
        impl PoolMax for $t {
            const LOWEST: Self = <$t>::NEG_INFINITY;
            #[inline(always)]
            fn nan(self) -> bool {
                self.is_nan()
            }
        }
    )*};
}
pool_max_float!(f32, f64, f16, bf16);

/// The input positions one output position reads along one axis: `first`,
/// `first + step`, ... (`n` of them, all inside the input; `n == 0` for a window that
/// lies entirely in the padding). `extent` is the window's size clipped to the padded
/// input: average pooling's divisor with `count_include_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Win {
    pub first: usize,
    pub n: usize,
    pub step: usize,
    pub extent: usize,
}

impl Win {
    /// The window of a size-1 axis that is not pooled (the padding axes of 1-D/2-D).
    pub const UNIT: Win = Win { first: 0, n: 1, step: 1, extent: 1 };

    #[inline(always)]
    fn at(self, j: usize) -> usize {
        self.first + j * self.step
    }
}

/// PyTorch's `pooling_output_shape`: the number of windows along an axis (may be <= 0,
/// which callers reject). With `ceil_mode` the last window must start inside the input
/// or its left padding.
pub fn pool_out_size(input: usize, k: usize, s: usize, p: usize, dil: usize, ceil_mode: bool) -> i128 {
    let (input, k, s, p, dil) = (input as i128, k as i128, s as i128, p as i128, dil as i128);
    let num = input + 2 * p - dil * (k - 1) - 1 + if ceil_mode { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    if ceil_mode && (out - 1) * s >= input + p {
        out -= 1;
    }
    out
}

/// Windows of a regular (max or average) pooling along one axis: output `o` covers
/// `o*s - p + j*dil` for `j < k`, of which the positions inside `[0, input)` are read.
pub fn pool_windows(input: usize, out: usize, k: usize, s: usize, p: usize, dil: usize) -> Vec<Win> {
    let (inp, k, s, p, dil) = (input as i128, k as i128, s as i128, p as i128, dil as i128);
    (0..out as i128)
        .map(|o| {
            let start = o * s - p;
            let end = (start + (k - 1) * dil + 1).min(inp);
            // First in-range tap: skip the taps that fall into the left padding.
            let first = if start < 0 { start + (-start + dil - 1) / dil * dil } else { start };
            let n = if first < end { (end - 1 - first) / dil + 1 } else { 0 };
            let extent = (start + k).min(inp + p) - start;
            Win { first: first.max(0) as usize, n: n as usize, step: dil as usize, extent: extent.max(0) as usize }
        })
        .collect()
}

/// Windows of adaptive pooling: output `o` covers `[floor(o*in/out), ceil((o+1)*in/out))`.
pub fn adaptive_windows(input: usize, out: usize) -> Vec<Win> {
    let (inp, outn) = (input as u128, out as u128);
    (0..outn)
        .map(|o| {
            let start = o * inp / outn;
            let end = ((o + 1) * inp).div_ceil(outn);
            let n = (end - start) as usize;
            Win { first: start as usize, n, step: 1, extent: n }
        })
        .collect()
}

/// How average pooling divides a window's sum.
#[derive(Clone, Copy, Debug)]
pub enum Divisor {
    /// `divisor_override`.
    Fixed(f64),
    /// The window clipped to the padded input (`count_include_pad=True`).
    Extent,
    /// The number of input elements read (`count_include_pad=False`, adaptive pooling).
    Count,
}

impl Divisor {
    #[inline(always)]
    fn of<F: Real>(self, w: [Win; 3]) -> F {
        match self {
            Divisor::Fixed(v) => F::from_f64(v),
            Divisor::Extent => F::from_f64((w[0].extent * w[1].extent * w[2].extent) as f64),
            Divisor::Count => F::from_f64((w[0].n * w[1].n * w[2].n) as f64),
        }
    }
}

/// Per-axis windows of one pooling: `wins[a][o]` for output position `o` along axis `a`
/// (axes D, H, W).
#[derive(Clone, Copy)]
pub struct Windows<'a> {
    pub input: [usize; 3],
    pub wins: [&'a [Win]; 3],
}

impl Windows<'_> {
    fn out_plane(&self) -> usize {
        self.wins.iter().map(|w| w.len()).product()
    }
    fn in_plane(&self) -> usize {
        self.input.iter().product()
    }
    /// Largest number of taps of one window (a work estimate).
    fn taps(&self) -> usize {
        self.wins.iter().map(|w| w.iter().map(|x| x.n).max().unwrap_or(0).max(1)).product()
    }
    /// Windows (D, H) of output row `r` within a plane.
    #[inline(always)]
    fn row(&self, r: usize) -> (Win, Win) {
        let oh = self.wins[1].len();
        (self.wins[0][r / oh], self.wins[1][r % oh])
    }
}

/// Runs `f(row_index, out_row, aux_row)` over the rows (length `row`) of `out` and `aux`,
/// in parallel when `work` is large.
fn rows2<A: Send, B: Send>(
    out: &mut [A],
    aux: &mut [B],
    row: usize,
    work: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    if row == 0 || out.is_empty() {
        return;
    }
    if work < PARALLEL_MIN || rayon::current_num_threads() == 1 {
        for (r, (o, a)) in out.chunks_mut(row).zip(aux.chunks_mut(row)).enumerate() {
            f(r, o, a);
        }
        return;
    }
    let per_row = (work / (out.len() / row)).max(1);
    let min_rows = (PARALLEL_MIN / 4 / per_row).max(1);
    out.par_chunks_mut(row)
        .zip(aux.par_chunks_mut(row))
        .enumerate()
        .with_min_len(min_rows)
        .for_each(|(r, (o, a))| f(r, o, a));
}

/// Runs `f(plane_in_grad, plane_out_grad_index)` over planes, in parallel when large.
fn planes<T: Send>(gin: &mut [T], plane: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if plane == 0 || gin.is_empty() {
        return;
    }
    if work < PARALLEL_MIN || rayon::current_num_threads() == 1 {
        gin.chunks_mut(plane).enumerate().for_each(|(b, g)| f(b, g));
    } else {
        gin.par_chunks_mut(plane).enumerate().for_each(|(b, g)| f(b, g));
    }
}

/// Max pooling of `src` (B planes of `w.input`) into `out` and `idx` (B planes of the
/// window tables' sizes). `idx` holds the flat position of each maximum within its input
/// plane (PyTorch's convention); the first element of the window wins ties, a NaN wins
/// over numbers (the last NaN when there are several), and a window with no input
/// element gives the dtype's lowest value and index -1.
pub fn max_pool<T: PoolMax>(src: &[T], w: Windows<'_>, out: &mut [T], idx: &mut [i64]) {
    let (ih, iw) = (w.input[1], w.input[2]);
    let (plane_in, ow) = (w.in_plane(), w.wins[2].len());
    let rows_per_plane = w.wins[0].len() * w.wins[1].len();
    let work = out.len() * w.taps();
    rows2(out, idx, ow, work, |r, o, x| {
        let b = r / rows_per_plane;
        let (wd, wh) = w.row(r % rows_per_plane);
        let plane = &src[b * plane_in..(b + 1) * plane_in];
        for ((ww, o), x) in w.wins[2].iter().zip(o.iter_mut()).zip(x.iter_mut()) {
            let mut best = T::LOWEST;
            let mut at = -1i64;
            if wd.n > 0 && wh.n > 0 && ww.n > 0 {
                at = ((wd.first * ih + wh.first) * iw + ww.first) as i64;
            }
            for jd in 0..wd.n {
                for jh in 0..wh.n {
                    let base = (wd.at(jd) * ih + wh.at(jh)) * iw + ww.first;
                    if ww.step == 1 {
                        for (j, &v) in plane[base..base + ww.n].iter().enumerate() {
                            if v > best || v.nan() {
                                best = v;
                                at = (base + j) as i64;
                            }
                        }
                        continue;
                    }
                    let line = &plane[base..];
                    for jw in 0..ww.n {
                        let v = line[jw * ww.step];
                        if v > best || v.nan() {
                            best = v;
                            at = (base + jw * ww.step) as i64;
                        }
                    }
                }
            }
            *o = best;
            *x = at;
        }
    });
}

/// Average pooling: each output is its window's sum divided by `div` (0 for a window
/// with no input element, as in PyTorch).
pub fn avg_pool<F: Real>(src: &[F], w: Windows<'_>, div: Divisor, out: &mut [F]) {
    let (ih, iw) = (w.input[1], w.input[2]);
    let (plane_in, ow) = (w.in_plane(), w.wins[2].len());
    let rows_per_plane = w.wins[0].len() * w.wins[1].len();
    let work = out.len() * w.taps();
    let mut nothing: Vec<()> = vec![(); out.len()];
    rows2(out, &mut nothing, ow, work, |r, o, _| {
        let b = r / rows_per_plane;
        let (wd, wh) = w.row(r % rows_per_plane);
        let plane = &src[b * plane_in..(b + 1) * plane_in];
        for (ww, o) in w.wins[2].iter().zip(o.iter_mut()) {
            if wd.n == 0 || wh.n == 0 || ww.n == 0 {
                *o = F::ZERO;
                continue;
            }
            let mut sum = F::ZERO;
            for jd in 0..wd.n {
                for jh in 0..wh.n {
                    let base = (wd.at(jd) * ih + wh.at(jh)) * iw + ww.first;
                    for &v in plane[base..base + ww.n].iter() {
                        sum += v;
                    }
                }
            }
            *o = sum / div.of::<F>([wd, wh, *ww]);
        }
    });
}

/// Backward of max pooling: `gin` (zeroed, B planes of `plane_in`) receives each
/// `grad` element at the position its index names; index -1 (an empty window) is
/// skipped. Indices must already be checked to lie in `[-1, plane_in)`.
pub fn max_pool_backward<F: Real>(grad: &[F], idx: &[i64], plane_in: usize, gin: &mut [F]) {
    let batch = gin.len().checked_div(plane_in).unwrap_or(0);
    if batch == 0 {
        return;
    }
    let plane_out = grad.len() / batch;
    planes(gin, plane_in, grad.len(), |b, g| {
        let lo = b * plane_out;
        for (&v, &i) in grad[lo..lo + plane_out].iter().zip(&idx[lo..lo + plane_out]) {
            if i >= 0 {
                g[i as usize] += v;
            }
        }
    });
}

/// Backward of average pooling: each `grad` element, divided as in the forward pass, is
/// added to every input element of its window.
pub fn avg_pool_backward<F: Real>(grad: &[F], w: Windows<'_>, div: Divisor, gin: &mut [F]) {
    let (ih, iw) = (w.input[1], w.input[2]);
    let (plane_in, plane_out) = (w.in_plane(), w.out_plane());
    let (od, oh, ow) = (w.wins[0].len(), w.wins[1].len(), w.wins[2].len());
    planes(gin, plane_in, grad.len() * w.taps(), |b, g| {
        let gp = &grad[b * plane_out..(b + 1) * plane_out];
        for d in 0..od {
            let wd = w.wins[0][d];
            for h in 0..oh {
                let wh = w.wins[1][h];
                let grow = &gp[(d * oh + h) * ow..(d * oh + h + 1) * ow];
                for (ww, &gv) in w.wins[2].iter().zip(grow) {
                    if wd.n == 0 || wh.n == 0 || ww.n == 0 {
                        continue;
                    }
                    let v = gv / div.of::<F>([wd, wh, *ww]);
                    for jd in 0..wd.n {
                        for jh in 0..wh.n {
                            let base = (wd.at(jd) * ih + wh.at(jh)) * iw + ww.first;
                            for x in g[base..base + ww.n].iter_mut() {
                                *x += v;
                            }
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        assert_eq!(pool_out_size(5, 2, 2, 0, 1, false), 2);
        assert_eq!(pool_out_size(5, 2, 2, 0, 1, true), 3);
        // The last window would start in the right padding: dropped.
        assert_eq!(pool_out_size(4, 2, 2, 1, 1, true), 3);
        assert_eq!(pool_out_size(2, 3, 1, 0, 1, false), 0);
    }

    #[test]
    fn windows_skip_padding() {
        let w = pool_windows(5, 3, 3, 2, 1, 1);
        assert_eq!(w[0], Win { first: 0, n: 2, step: 1, extent: 3 });
        assert_eq!(w[2], Win { first: 3, n: 2, step: 1, extent: 3 });
        let w = pool_windows(7, 2, 3, 3, 1, 2);
        assert_eq!(w[0], Win { first: 1, n: 2, step: 2, extent: 3 });
        let a = adaptive_windows(5, 3);
        assert_eq!(a.iter().map(|w| (w.first, w.n)).collect::<Vec<_>>(), vec![(0, 2), (1, 3), (3, 2)]);
    }

    #[test]
    fn max_and_avg_2d() {
        // One 3x3 plane, 2x2 windows with stride 1.
        let src: Vec<f32> = vec![1., 5., 2., 4., f32::NAN, 0., 7., 8., 9.];
        let wh = pool_windows(3, 2, 2, 1, 0, 1);
        let w = Windows { input: [1, 3, 3], wins: [&[Win::UNIT], &wh, &wh] };
        let (mut out, mut idx) = (vec![0f32; 4], vec![0i64; 4]);
        max_pool(&src, w, &mut out, &mut idx);
        assert!(out.iter().all(|v| v.is_nan()));
        assert_eq!(idx, vec![4, 4, 4, 4]);
        let mut avg = vec![0f32; 4];
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        avg_pool(&src, w, Divisor::Extent, &mut avg);
        assert_eq!(avg, vec![2., 3., 5., 6.]);
        let mut gin = vec![0f32; 9];
        avg_pool_backward(&[4., 4., 4., 4.], w, Divisor::Extent, &mut gin);
        assert_eq!(gin, vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
    }
}
