//! The strided copy/cast kernel behind `contiguous()`, `astype`, assignment through views,
//! and (with an offset table on the outer dim) advanced-index gathers and scatters.
//!
//! Dims are reordered by the destination's strides, dims contiguous in both operands are
//! merged, and a transposing copy (source fastest along another dim than the
//! destination) is cache-blocked so both sides stream whole cache lines.

use std::any::TypeId;

use smallvec::SmallVec;

use super::transpose;
use super::{SendPtr, PARALLEL_MIN};
use crate::core::{Dims, Element, Strides};

/// Tile edge for transposing copies: 32x32 elements keeps both tiles in L1.
const TILE: usize = 32;

/// A copy's iteration space after reordering and merging; the last dim is innermost.
#[derive(Clone, Debug)]
pub struct Plan {
    pub shape: Dims,
    pub src: Strides,
    pub dst: Strides,
    /// The last two dims are a transpose to be walked in tiles.
    pub tiled: bool,
}

impl Plan {
    pub fn new(shape: &[usize], src: &[isize], dst: &[isize]) -> Plan {
        let mut order: SmallVec<[usize; 6]> = (0..shape.len()).filter(|&i| shape[i] != 1).collect();
        // Outermost first: largest destination stride, ties broken by the source.
        order.sort_by(|&a, &b| {
            (dst[b].unsigned_abs(), src[b].unsigned_abs()).cmp(&(dst[a].unsigned_abs(), src[a].unsigned_abs()))
        });
        let mut p = Plan { shape: Dims::new(), src: Strides::new(), dst: Strides::new(), tiled: false };
        for &i in &order {
            let n = p.shape.len();
            if n > 0 {
                let (d, s, t) = (shape[i] as isize, src[i], dst[i]);
                if p.src[n - 1] == s * d && p.dst[n - 1] == t * d {
                    p.shape[n - 1] *= shape[i];
                    p.src[n - 1] = s;
                    p.dst[n - 1] = t;
                    continue;
                }
            }
            p.shape.push(shape[i]);
            p.src.push(src[i]);
            p.dst.push(dst[i]);
        }
        p.plan_tiles();
        p
    }

    /// If the source is fastest along some other dim than the destination's innermost,
    /// move that dim next to the innermost and mark the pair for tiling.
    fn plan_tiles(&mut self) {
        let n = self.shape.len();
        if n < 2 || self.src[n - 1].unsigned_abs() == 1 || self.dst[n - 1].unsigned_abs() != 1 {
            return;
        }
        let Some(j) = (0..n - 1).rev().find(|&j| self.src[j].unsigned_abs() == 1) else {
            return;
        };
        if self.shape[j] < 8 || self.shape[n - 1] < 8 {
            return;
        }
        let (d, s, t) = (self.shape.remove(j), self.src.remove(j), self.dst.remove(j));
        self.shape.insert(n - 2, d);
        self.src.insert(n - 2, s);
        self.dst.insert(n - 2, t);
        self.tiled = true;
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How the outer dim of an indexed copy steps: a fixed stride or an offset per entry.
#[derive(Clone, Copy)]
pub enum Walk<'a> {
    Stride(isize),
    Table(&'a [isize]),
}

impl Walk<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> isize {
        match self {
            Walk::Stride(s) => i as isize * s,
            Walk::Table(t) => t[i],
        }
    }
}

#[inline(always)]
unsafe fn line<S: Copy, D: Copy, F: Fn(S) -> D>(n: usize, sp: *const S, ss: isize, dp: *mut D, ds: isize, f: &F) {
    if ss == 1 && ds == 1 {
        for i in 0..n {
            *dp.add(i) = f(*sp.add(i));
        }
    } else if ss == 0 && ds == 1 {
        let v = f(*sp);
        for i in 0..n {
            *dp.add(i) = v;
        }
    } else {
        for i in 0..n as isize {
            *dp.offset(i * ds) = f(*sp.offset(i * ss));
        }
    }
}

/// Copies a 2-D block in TILE x TILE tiles (rows: dim 0, columns: dim 1 = dst-contiguous).
#[inline(always)]
unsafe fn tiles<S: Copy + 'static, D: Copy + 'static, F: Fn(S) -> D>(
    rows: usize,
    cols: usize,
    sp: *const S,
    (sr, sc): (isize, isize),
    dp: *mut D,
    (dr, dc): (isize, isize),
    f: &F,
) {
    // Dtype-preserving 4-byte copies arrive as u32 -> u32 with the identity conversion
    // (see ops::copy), and then the AVX micro-kernel can move raw bits.
    let raw32 = TypeId::of::<S>() == TypeId::of::<u32>() && TypeId::of::<D>() == TypeId::of::<u32>();
    if raw32 && sr == 1 && dc == 1 && transpose::available() {
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                let s = sp.offset(r0 as isize + c0 as isize * sc) as *const u32;
                let d = dp.offset(r0 as isize * dr + c0 as isize) as *mut u32;
                transpose::transpose32((rows - r0).min(TILE), (cols - c0).min(TILE), s, sc, d, dr);
            }
        }
        return;
    }
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..r1 {
                let s = sp.offset(r as isize * sr);
                let d = dp.offset(r as isize * dr);
                for c in c0..c1 {
                    *d.offset(c as isize * dc) = f(*s.offset(c as isize * sc));
                }
            }
        }
    }
}

/// Runs `plan` from `sp` into `dp` on this thread.
unsafe fn run_plan<S: Copy + 'static, D: Copy + 'static, F: Fn(S) -> D>(p: &Plan, sp: *const S, dp: *mut D, f: &F) {
    let n = p.shape.len();
    if n == 0 {
        *dp = f(*sp);
        return;
    }
    let inner = if p.tiled { 2 } else { 1 };
    let outer = n - inner;
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, outer);
    let (mut so, mut d_o) = (0isize, 0isize);
    let count: usize = p.shape[..outer].iter().product();
    for _ in 0..count {
        if p.tiled {
            let (r, c) = (p.shape[n - 2], p.shape[n - 1]);
            tiles(r, c, sp.offset(so), (p.src[n - 2], p.src[n - 1]), dp.offset(d_o), (p.dst[n - 2], p.dst[n - 1]), f);
        } else {
            line(p.shape[n - 1], sp.offset(so), p.src[n - 1], dp.offset(d_o), p.dst[n - 1], f);
        }
        // Odometer increment over the outer dims.
        for k in (0..outer).rev() {
            idx[k] += 1;
            so += p.src[k];
            d_o += p.dst[k];
            if idx[k] < p.shape[k] {
                break;
            }
            so -= p.src[k] * p.shape[k] as isize;
            d_o -= p.dst[k] * p.shape[k] as isize;
            idx[k] = 0;
        }
    }
}

/// Copies `plan` with conversion `f`, splitting the outermost dim across threads when big.
///
/// # Safety
/// Every offset the plan reaches from `sp`/`dp` must be in bounds; destinations must not
/// alias each other (guaranteed for non-broadcast destination layouts).
pub unsafe fn copy<S: Element, D: Element, F: Fn(S) -> D + Sync>(p: &Plan, sp: *const S, dp: *mut D, f: F) {
    let total = p.numel();
    if total == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    // A broadcast destination (stride 0) writes one element many times: keep it serial.
    let aliased_dst = p.dst.contains(&0);
    if total < PARALLEL_MIN || threads == 1 || p.shape.is_empty() || aliased_dst {
        return run_plan(p, sp, dp, &f);
    }
    let d0 = p.shape[0];
    // Split dim 0 into about 4 chunks per thread (tile-aligned when dim 0 is tiled).
    let align = if p.tiled && p.shape.len() == 2 { TILE } else { 1 };
    let chunk = d0.div_ceil(threads * 4).div_ceil(align).max(1) * align;
    let (s, d) = (SendPtr(sp as *mut S), SendPtr(dp));
    let f = &f;
    rayon::scope(|sc| {
        for start in (0..d0).step_by(chunk) {
            let mut sub = p.clone();
            sub.shape[0] = chunk.min(d0 - start);
            sc.spawn(move |_| {
                let (s, d) = (s, d);
                run_plan(
                    &sub,
                    s.get().offset(start as isize * sub.src[0]),
                    d.get().offset(start as isize * sub.dst[0]),
                    f,
                )
            });
        }
    });
}

/// Outer dim walked by `src_walk`/`dst_walk` (n entries), inner dims by `inner`.
/// Parallel only when the destination walk is a plain stride (a scatter through a table
/// may hit the same element twice, and then the last write must win, as in numpy).
///
/// # Safety
/// As for [`copy`]; every table offset must already be bounds-checked.
pub unsafe fn copy_indexed<S: Element, D: Element, F: Fn(S) -> D + Sync>(
    n: usize,
    src_walk: Walk<'_>,
    dst_walk: Walk<'_>,
    inner: &Plan,
    sp: *const S,
    dp: *mut D,
    f: F,
) {
    let per = inner.numel();
    if n == 0 || per == 0 {
        return;
    }
    let body = |lo: usize, hi: usize, s: SendPtr<S>, d: SendPtr<D>| {
        for i in lo..hi {
            run_plan(inner, s.get().offset(src_walk.at(i)), d.get().offset(dst_walk.at(i)), &f);
        }
    };
    let parallel = matches!(dst_walk, Walk::Stride(_)) && n * per >= PARALLEL_MIN && rayon::current_num_threads() > 1;
    let (s, d) = (SendPtr(sp as *mut S), SendPtr(dp));
    if !parallel {
        return body(0, n, s, d);
    }
    let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(1);
    let body = &body;
    rayon::scope(|sc| {
        for lo in (0..n).step_by(chunk) {
            sc.spawn(move |_| body(lo, (lo + chunk).min(n), s, d));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_merges_contiguous_dims() {
        let p = Plan::new(&[2, 3, 4], &[12, 4, 1], &[12, 4, 1]);
        assert_eq!(p.shape.as_slice(), &[24]);
        assert!(!p.tiled);
    }

    #[test]
    fn plan_tiles_transposes() {
        // dst contiguous (64, 48), src = transposed view of a (48, 64) array
        let p = Plan::new(&[64, 48], &[1, 64], &[48, 1]);
        assert!(p.tiled);
        let src: Vec<f32> = (0..64 * 48).map(|i| i as f32).collect();
        let mut dst = vec![0f32; 64 * 48];
        unsafe { copy(&p, src.as_ptr(), dst.as_mut_ptr(), |x| x) };
        for r in 0..64 {
            for c in 0..48 {
                assert_eq!(dst[r * 48 + c], src[c * 64 + r]);
            }
        }
    }

    #[test]
    fn parallel_copy_matches_serial() {
        let (r, c) = (300, 257);
        let src: Vec<i32> = (0..r * c).map(|i| i as i32).collect();
        let mut dst = vec![0f64; r * c];
        let p = Plan::new(&[c, r], &[1, c as isize], &[r as isize, 1]);
        unsafe { copy(&p, src.as_ptr(), dst.as_mut_ptr(), |x| x as f64) };
        for i in 0..c {
            for j in 0..r {
                assert_eq!(dst[i * r + j], src[j * c + i] as f64);
            }
        }
    }
}
