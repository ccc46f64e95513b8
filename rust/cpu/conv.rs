//! Convolution kernels over contiguous NC(D)(H)W buffers. Every problem is normalised to
//! three spatial dims (1-D and 2-D get leading size-1 dims), so one code path serves
//! conv1d/2d/3d.
//!
//! - Forward: a direct kernel. Each image is copied once into a zero-padded buffer whose
//!   rows are split by width phase (column `w` goes to phase `w % stride_w`), so every
//!   kernel tap reads a contiguous run of that buffer for any stride or dilation. An
//!   `MR x NR` register tile (output channels x output columns) then accumulates over
//!   `K = C_in/groups * kernel volume` like a GEMM micro-kernel whose B operand is read
//!   straight from the padded image: no im2col matrix, which for small `C_in` (K = 27 for
//!   an RGB 3x3) would cost more memory traffic than the arithmetic.
//! - Input gradient: for stride 1 (and padding at most the dilated kernel extent) it is
//!   the forward kernel run on the output gradient with flipped, transposed weights;
//!   otherwise a GEMM (`W^T @ grad_out`) followed by col2im.
//! - Weight gradient: im2col of the input, then `grad_out @ col^T` accumulated per image.
//!
//! GEMMs go to the `gemm` crate, as `matmul` does.

use rayon::prelude::*;

use super::num::Num;
use super::simd::{level, Level};
use super::SendPtr;

/// The shape of one convolution, normalised to three spatial dims `(d, h, w)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Geom {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub groups: usize,
    /// Spatial sizes of the input.
    pub input: [usize; 3],
    /// Spatial sizes of the output.
    pub out: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    /// Leading padding (the trailing padding only shows in `out`).
    pub pad: [usize; 3],
    pub dil: [usize; 3],
}

impl Geom {
    pub fn cig(&self) -> usize {
        self.c_in / self.groups
    }
    pub fn cog(&self) -> usize {
        self.c_out / self.groups
    }
    pub fn kvol(&self) -> usize {
        self.kernel.iter().product()
    }
    /// Rows of the per-group GEMM: `C_in/groups * kernel volume`.
    pub fn krows(&self) -> usize {
        self.cig() * self.kvol()
    }
    pub fn in_vol(&self) -> usize {
        self.input.iter().product()
    }
    pub fn out_vol(&self) -> usize {
        self.out.iter().product()
    }
}

/// float32 / float64: the types the kernels compute in.
pub trait ConvFloat: Num {
    fn fma(a: Self, b: Self, c: Self) -> Self;
    /// Runs the direct kernel on a block of output rows with this CPU's widest vectors.
    ///
    /// # Safety
    /// `job` comes from `Direct::rows`, whose buffers are sized for its geometry.
    unsafe fn run_rows(job: &Rows<'_, Self>);
    /// Runs the direct weight-gradient kernel on a block of output rows.
    ///
    /// # Safety
    /// `job` comes from `backward_weight_direct`, whose buffers are sized for its geometry.
    unsafe fn run_wgrad(job: &Wgrad<'_, Self>);
}

impl ConvFloat for f32 {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    unsafe fn run_rows(job: &Rows<'_, f32>) {
        #[cfg(target_arch = "x86_64")]
        if job.d.avx2 {
            return avx2::rows_f32(job);
        }
        tile_loop::<Lanes<f32, 4>, MR, 2>(job)
    }
    unsafe fn run_wgrad(job: &Wgrad<'_, f32>) {
        #[cfg(target_arch = "x86_64")]
        if job.d.avx2 {
            return avx2::wgrad_f32(job);
        }
        wgrad_rows::<Lanes<f32, 4>, WM, WK>(job)
    }
}

impl ConvFloat for f64 {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    unsafe fn run_rows(job: &Rows<'_, f64>) {
        #[cfg(target_arch = "x86_64")]
        if job.d.avx2 {
            return avx2::rows_f64(job);
        }
        tile_loop::<Lanes<f64, 4>, MR, 2>(job)
    }
    unsafe fn run_wgrad(job: &Wgrad<'_, f64>) {
        #[cfg(target_arch = "x86_64")]
        if job.d.avx2 {
            return avx2::wgrad_f64(job);
        }
        wgrad_rows::<Lanes<f64, 4>, WM, WK>(job)
    }
}

/// Work (multiply-adds) below which a convolution stays on the calling thread.
const PAR_WORK: usize = 1 << 17;
/// Elements of im2col buffer per task; larger problems are split into output-row chunks.
const COL_BUDGET: usize = 1 << 20;
/// Slack after a padded image so a partial tile may read (and discard) a full tile.
const SLACK: usize = 64;

/// Output positions `o` in `0..n_out` with `0 <= o * stride + off < n_in`, as a range.
#[inline(always)]
fn valid(n_out: usize, stride: usize, off: isize, n_in: usize) -> (usize, usize) {
    let last = n_in as isize - 1 - off;
    if last < 0 {
        return (0, 0);
    }
    let hi = (last as usize / stride + 1).min(n_out);
    let lo = if off >= 0 { 0 } else { ((-off) as usize).div_ceil(stride) };
    (lo.min(hi), hi)
}

fn threads() -> usize {
    rayon::current_num_threads()
}

// ---- im2col / col2im ------------------------------------------------------------------

/// Walks the rows `(c, kd, kh, kw)` of the im2col matrix of `channels` channels and the
/// output rows `(od, oh)` in `r0..r1`; calls `f(col_offset, src_offset, lo, hi, w_off)`
/// for each output row segment: columns `lo..hi` read input `src_offset + ow*sw + w_off`,
/// the rest are padding. `src_offset` is `None` when the whole row is padding.
#[inline(always)]
fn walk_col(
    g: &Geom,
    channels: usize,
    r0: usize,
    r1: usize,
    mut f: impl FnMut(usize, Option<usize>, usize, usize, isize),
) {
    let [kd, kh, kw] = g.kernel;
    let [_, oh_n, ow_n] = g.out;
    let [d_n, h_n, w_n] = g.input;
    let [sd, sh, sw] = g.stride;
    let [pd, ph, pw] = g.pad;
    let [dd, dh, dw] = g.dil;
    let cols = (r1 - r0) * ow_n;
    let mut row = 0;
    for c in 0..channels {
        for a in 0..kd {
            for b in 0..kh {
                for e in 0..kw {
                    let w_off = (e * dw) as isize - pw as isize;
                    let (lo, hi) = valid(ow_n, sw, w_off, w_n);
                    for r in r0..r1 {
                        let (od, oh) = (r / oh_n, r % oh_n);
                        let id = (od * sd + a * dd) as isize - pd as isize;
                        let ih = (oh * sh + b * dh) as isize - ph as isize;
                        let dst = row * cols + (r - r0) * ow_n;
                        if id < 0 || id >= d_n as isize || ih < 0 || ih >= h_n as isize {
                            f(dst, None, 0, 0, 0);
                        } else {
                            let src = ((c * d_n + id as usize) * h_n + ih as usize) * w_n;
                            f(dst, Some(src), lo, hi, w_off);
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Fills `col` (`channels * kvol` rows by `(r1 - r0) * out_w` columns) from image `x`.
///
/// # Safety
/// `x` holds `channels` contiguous input channels, `col` has room for the matrix.
unsafe fn im2col<T: Num>(g: &Geom, x: *const T, channels: usize, r0: usize, r1: usize, col: *mut T) {
    let (ow_n, sw) = (g.out[2], g.stride[2]);
    walk_col(g, channels, r0, r1, |dst, src, lo, hi, w_off| {
        let d = col.add(dst);
        for ow in 0..lo {
            *d.add(ow) = T::zero();
        }
        if let Some(src) = src {
            if lo < hi {
                // First input element read; the range keeps every index inside the image.
                let s = x.offset(src as isize + w_off + (lo * sw) as isize);
                if sw == 1 {
                    std::ptr::copy_nonoverlapping(s, d.add(lo), hi - lo);
                } else {
                    for ow in lo..hi {
                        *d.add(ow) = *s.add((ow - lo) * sw);
                    }
                }
            }
        }
        for ow in hi.max(lo)..ow_n {
            *d.add(ow) = T::zero();
        }
    });
}

/// Adds `col` (as laid out by [`im2col`]) back into image `x`.
///
/// # Safety
/// As for [`im2col`], with `x` writable.
unsafe fn col2im<T: Num>(g: &Geom, col: *const T, channels: usize, r0: usize, r1: usize, x: *mut T) {
    let sw = g.stride[2];
    walk_col(g, channels, r0, r1, |dst, src, lo, hi, w_off| {
        if let (Some(src), true) = (src, lo < hi) {
            let s = col.add(dst);
            let d = x.offset(src as isize + w_off + (lo * sw) as isize);
            for ow in lo..hi {
                let p = d.add((ow - lo) * sw);
                *p = T::add(*p, *s.add(ow));
            }
        }
    });
}

/// `c (+)= a @ b` through the `gemm` crate; `c` is row-major with row stride `c_rs`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: ConvFloat>(
    (m, n, k): (usize, usize, usize),
    a: (*const T, isize, isize),
    b: (*const T, isize, isize),
    c: *mut T,
    c_rs: isize,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.offset(i as isize * c_rs + j as isize) = T::zero();
                }
            }
        }
        return;
    }
    let par = if threads > 1 && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let one = T::from_f64(1.0);
    gemm::gemm(m, n, k, c, 1, c_rs, accumulate, a.0, a.2, a.1, b.0, b.2, b.1, one, one, false, false, false, par);
}

/// Output rows `(od, oh)` per im2col chunk, so that one chunk's matrix stays near `COL_BUDGET`.
fn rows_per_chunk(g: &Geom) -> usize {
    let per_row = (g.c_in * g.kvol() * g.out[2]).max(1);
    (COL_BUDGET / per_row).clamp(1, (g.out[0] * g.out[1]).max(1))
}

// ---- forward: direct kernel -----------------------------------------------------------

/// A forward problem prepared for the direct kernel: padded-buffer geometry, per-tap
/// offsets and the weights packed in `MR`-row panels.
pub struct Direct<T> {
    g: Geom,
    /// Tile width (output columns): two vectors.
    nr: usize,
    /// Whether the AVX2+FMA kernel runs (x86-64 with AVX2 or AVX-512).
    avx2: bool,
    /// Tiles run across output rows through the padded frame (stride 1 in h and w).
    flat: bool,
    /// K-block length: one block of B (`kc x NR`) stays in L1.
    kc: usize,
    /// Padded image: `[c][dp][hp][phase][wq]`.
    dp: usize,
    hp: usize,
    wq: usize,
    hstride: usize,
    dstride: usize,
    plane: usize,
    offsets: Vec<usize>,
    nblk: usize,
    /// `[group][block][k][MR]`.
    packed: Vec<T>,
}

impl<T: ConvFloat> Direct<T> {
    /// `w` is `(c_out, c_in/groups, kd, kh, kw)`, contiguous; null for the weight
    /// gradient, which packs no weights.
    unsafe fn new(g: Geom, w: *const T) -> Direct<T> {
        let size = std::mem::size_of::<T>();
        let avx2 = cfg!(target_arch = "x86_64") && level() != Level::Baseline;
        // Two vectors per tile row: 12 accumulators leave registers for B and A.
        let nr = if avx2 { 64 / size } else { 8 };
        let mr = MR;
        let kk = g.krows();
        let kc0 = 16384 / (nr * size);
        let kc = if kk <= kc0 + kc0 / 2 { kk.max(1) } else { kc0 };
        let [kd, kh, kw] = g.kernel;
        let [od, oh, ow] = g.out;
        let [sd, sh, sw] = g.stride;
        let [dd, dh, dw] = g.dil;
        let dp = (od - 1) * sd + (kd - 1) * dd + 1;
        let hp = (oh - 1) * sh + (kh - 1) * dh + 1;
        let wq = ow + (kw - 1) * dw / sw;
        let hstride = sw * wq;
        let dstride = hp * hstride;
        let plane = dp * dstride;
        let mut offsets = Vec::with_capacity(kk);
        for c in 0..g.cig() {
            for a in 0..kd {
                for b in 0..kh {
                    for e in 0..kw {
                        let t = e * dw;
                        offsets.push(c * plane + a * dd * dstride + b * dh * hstride + (t % sw) * wq + t / sw);
                    }
                }
            }
        }
        let cog = g.cog();
        let nblk = cog.div_ceil(mr);
        let mut packed = vec![T::zero(); if w.is_null() { 0 } else { g.groups * nblk * kk * mr }];
        for gi in 0..if w.is_null() { 0 } else { g.groups } {
            for blk in 0..nblk {
                let base = (gi * nblk + blk) * kk * mr;
                for r in 0..mr.min(cog - blk * mr) {
                    let src = w.add((gi * cog + blk * mr + r) * kk);
                    for k in 0..kk {
                        packed[base + k * mr + r] = *src.add(k);
                    }
                }
            }
        }
        // Flat tiles waste the halo columns of each padded row; row tiles waste the
        // remainder of each row's last tile. Take whichever wastes less.
        let row_cover = ow.div_ceil(nr) * nr;
        let flat = sh == 1 && sw == 1 && wq < row_cover;
        Direct { g, nr, avx2, flat, kc, dp, hp, wq, hstride, dstride, plane, offsets, nblk, packed }
    }

    fn padded_len(&self) -> usize {
        self.g.c_in * self.plane + SLACK
    }

    /// Copies image `x` into the zero-padded, phase-split buffer `buf`.
    unsafe fn pad(&self, x: *const T, buf: *mut T) {
        let g = &self.g;
        let [d_n, h_n, w_n] = g.input;
        let [pd, ph, pw] = g.pad;
        let sw = g.stride[2];
        for c in 0..g.c_in {
            for dp in 0..self.dp {
                for hp in 0..self.hp {
                    let dst = buf.add(c * self.plane + dp * self.dstride + hp * self.hstride);
                    let (id, ih) = (dp as isize - pd as isize, hp as isize - ph as isize);
                    if id < 0 || id >= d_n as isize || ih < 0 || ih >= h_n as isize {
                        std::ptr::write_bytes(dst, 0, self.hstride);
                        continue;
                    }
                    let src = x.add(((c * d_n + id as usize) * h_n + ih as usize) * w_n);
                    for q in 0..sw {
                        let off = q as isize - pw as isize;
                        let (lo, hi) = valid(self.wq, sw, off, w_n);
                        let d = dst.add(q * self.wq);
                        std::ptr::write_bytes(d, 0, lo);
                        if lo < hi {
                            let s = src.offset(off + (lo * sw) as isize);
                            if sw == 1 {
                                std::ptr::copy_nonoverlapping(s, d.add(lo), hi - lo);
                            } else {
                                for j in lo..hi {
                                    *d.add(j) = *s.add((j - lo) * sw);
                                }
                            }
                        }
                        std::ptr::write_bytes(d.add(hi), 0, self.wq - hi);
                    }
                }
            }
        }
        std::ptr::write_bytes(buf.add(g.c_in * self.plane), 0, SLACK);
    }

    /// Output rows `rows` of group `gi` of one image: `buf` is its padded copy, `y` the
    /// image's output, `bias` the full bias vector.
    unsafe fn rows(&self, buf: *const T, y: *mut T, bias: Option<*const T>, gi: usize, rows: (usize, usize)) {
        T::run_rows(&Rows { d: self, buf, y, bias, gi, rows });
    }
}

/// A block of output rows of one group of one image, for the direct kernel.
pub struct Rows<'a, T> {
    d: &'a Direct<T>,
    buf: *const T,
    y: *mut T,
    bias: Option<*const T>,
    gi: usize,
    rows: (usize, usize),
}

/// Output channels per register tile.
const MR: usize = 6;

/// A few float lanes handled as one value. The direct kernel's accumulators are arrays of
/// these, indexed only by constants, so they stay in registers (plain arrays of floats
/// with partial tiles around them were spilled by LLVM after every FMA).
trait Simd: Copy {
    type E: ConvFloat;
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(v: Self::E) -> Self;
    unsafe fn load(p: *const Self::E) -> Self;
    /// The first `n < LANES` elements at `p`, zeros after (memory past them is not read).
    unsafe fn load_partial(p: *const Self::E, n: usize) -> Self;
    unsafe fn store(self, p: *mut Self::E);
    /// `a * b + c`.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
}

/// The portable vector: LLVM maps it to SSE2/NEON where it can.
#[derive(Clone, Copy)]
struct Lanes<T, const L: usize>([T; L]);

impl<T: ConvFloat, const L: usize> Simd for Lanes<T, L> {
    type E = T;
    const LANES: usize = L;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Lanes([T::zero(); L])
    }
    #[inline(always)]
    unsafe fn splat(v: T) -> Self {
        Lanes([v; L])
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Lanes(std::ptr::read_unaligned(p as *const [T; L]))
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const T, n: usize) -> Self {
        let mut a = [T::zero(); L];
        std::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n);
        Lanes(a)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        std::ptr::write_unaligned(p as *mut [T; L], self.0)
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        let mut r = c.0;
        for ((x, a), b) in r.iter_mut().zip(a.0).zip(b.0) {
            // Fused on aarch64 (one instruction); a libm call on baseline x86-64, so not there.
            *x = if cfg!(target_arch = "aarch64") { T::fma(a, b, *x) } else { T::add(T::mul(a, b), *x) };
        }
        Lanes(r)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{tile_loop, wgrad_rows, Rows, Simd, Wgrad, MR, WK, WM};

    /// Lane masks for partial loads: `n` lanes start at index `8 - n` (`4 - n`).
    static MASK32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    static MASK64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

    #[derive(Clone, Copy)]
    pub struct F32x8(__m256);
    #[derive(Clone, Copy)]
    pub struct F64x4(__m256d);

    // SAFETY (all methods): only called from the `#[target_feature]` functions below,
    // which run after AVX2 and FMA were detected.
    impl Simd for F32x8 {
        type E = f32;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> Self {
            F32x8(_mm256_setzero_ps())
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            F32x8(_mm256_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            F32x8(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> Self {
            let mask = _mm256_loadu_si256(MASK32.as_ptr().add(8 - n) as *const __m256i);
            F32x8(_mm256_maskload_ps(p, mask))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm256_storeu_ps(p, self.0)
        }
        #[inline(always)]
        unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
            F32x8(_mm256_fmadd_ps(a.0, b.0, c.0))
        }
    }

    impl Simd for F64x4 {
        type E = f64;
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn zero() -> Self {
            F64x4(_mm256_setzero_pd())
        }
        #[inline(always)]
        unsafe fn splat(v: f64) -> Self {
            F64x4(_mm256_set1_pd(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            F64x4(_mm256_loadu_pd(p))
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f64, n: usize) -> Self {
            let mask = _mm256_loadu_si256(MASK64.as_ptr().add(4 - n) as *const __m256i);
            F64x4(_mm256_maskload_pd(p, mask))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            _mm256_storeu_pd(p, self.0)
        }
        #[inline(always)]
        unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
            F64x4(_mm256_fmadd_pd(a.0, b.0, c.0))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows_f32(job: &Rows<'_, f32>) {
        tile_loop::<F32x8, MR, 2>(job)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows_f64(job: &Rows<'_, f64>) {
        tile_loop::<F64x4, MR, 2>(job)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn wgrad_f32(job: &Wgrad<'_, f32>) {
        wgrad_rows::<F32x8, WM, WK>(job)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn wgrad_f64(job: &Wgrad<'_, f64>) {
        wgrad_rows::<F64x4, WM, WK>(job)
    }
}

/// A run of output columns of one tile: `len` outputs at plane offset `y` come from tile
/// columns `t..t + len`.
#[derive(Clone, Copy, Default)]
struct Seg {
    y: usize,
    t: usize,
    len: usize,
}

/// The register-tiled loop over a block of rows: tiles of `MR` output channels by
/// `NV * LANES` output positions, accumulated over `K` in blocks of `kc`. A tile covers
/// part of one output row, or (flat mode) consecutive positions of the padded frame
/// across rows, whose halo columns are computed and dropped.
#[inline(always)]
unsafe fn tile_loop<V: Simd, const MR: usize, const NV: usize>(j: &Rows<'_, V::E>) {
    let d = j.d;
    let nr = NV * V::LANES;
    debug_assert!(d.nr == nr && nr <= 64);
    let g = &d.g;
    let [_, oh_n, ow_n] = g.out;
    let [sd, sh, _] = g.stride;
    let (kk, cog, out_vol) = (g.krows(), g.cog(), g.out_vol());
    let gbuf = j.buf.add(j.gi * g.cig() * d.plane);
    let ygroup = j.y.add(j.gi * cog * out_vol);
    let mut tmp = [[V::E::zero(); 64]; MR];
    let mut segs = [Seg::default(); 66];
    let mut kb0 = 0;
    while kb0 < kk {
        let kb1 = (kb0 + d.kc).min(kk);
        let kb = (kb0, kb1, kb0 == 0);
        if d.flat {
            // Rows [r, r1) of each depth slice as one run of the padded frame (stride 1).
            let mut r = j.rows.0;
            while r < j.rows.1 {
                let (od, oh_a) = (r / oh_n, r % oh_n);
                let oh_b = oh_n.min(oh_a + (j.rows.1 - r));
                let (p0, p1) = (oh_a * d.wq, (oh_b - 1) * d.wq + ow_n);
                let xbase = gbuf.add(od * sd * d.dstride);
                let ybase = ygroup.add(od * oh_n * ow_n);
                let mut p = p0;
                while p < p1 {
                    let pe = (p + nr).min(p1);
                    let mut ns = 0;
                    let mut q = p;
                    while q < pe {
                        let (oh, ow) = (q / d.wq, q % d.wq);
                        let row_end = pe.min(oh * d.wq + d.wq);
                        if ow < ow_n {
                            let len = ow_n.min(ow + (row_end - q)) - ow;
                            segs[ns] = Seg { y: oh * ow_n + ow, t: q - p, len };
                            ns += 1;
                        }
                        q = row_end;
                    }
                    tile::<V, MR, NV>(j, kb, xbase.add(p), ybase, &segs[..ns], &mut tmp);
                    p += nr;
                }
                r += oh_b - oh_a;
            }
        } else {
            for r in j.rows.0..j.rows.1 {
                let (od, oh) = (r / oh_n, r % oh_n);
                let xrow = gbuf.add(od * sd * d.dstride + oh * sh * d.hstride);
                let mut ow0 = 0;
                while ow0 < ow_n {
                    let seg = Seg { y: r * ow_n + ow0, t: 0, len: (ow_n - ow0).min(nr) };
                    tile::<V, MR, NV>(j, kb, xrow.add(ow0), ygroup, &[seg], &mut tmp);
                    ow0 += nr;
                }
            }
        }
        kb0 = kb1;
    }
}

/// One tile position for every output-channel block: `xp` is the padded input under tile
/// column 0, `y` the group's first output plane, `segs` where the tile's columns go.
#[inline(always)]
unsafe fn tile<V: Simd, const MR: usize, const NV: usize>(
    j: &Rows<'_, V::E>,
    (kb0, kb1, first): (usize, usize, bool),
    xp: *const V::E,
    y: *mut V::E,
    segs: &[Seg],
    tmp: &mut [[V::E; 64]; MR],
) {
    let d = j.d;
    let (l, nr) = (V::LANES, NV * V::LANES);
    let g = &d.g;
    let (kk, cog, out_vol) = (g.krows(), g.cog(), g.out_vol());
    // One whole segment: vectors go straight to and from the output.
    let direct = segs.len() == 1 && segs[0].len == nr;
    let offs = &d.offsets[kb0..kb1];
    for blk in 0..d.nblk {
        let co0 = blk * MR;
        let mv = (cog - co0).min(MR);
        let yc = y.add(co0 * out_vol);
        let mut acc = [[V::zero(); NV]; MR];
        for (rr, a) in acc.iter_mut().enumerate() {
            if rr >= mv {
                break;
            }
            if !first {
                let src = if direct {
                    yc.add(rr * out_vol + segs[0].y) as *const V::E
                } else {
                    let t = &mut tmp[rr];
                    for s in segs {
                        std::ptr::copy_nonoverlapping(yc.add(rr * out_vol + s.y), t.as_mut_ptr().add(s.t), s.len);
                    }
                    t.as_ptr()
                };
                for (v, x) in a.iter_mut().enumerate() {
                    *x = V::load(src.add(v * l));
                }
            } else if let Some(b) = j.bias {
                *a = [V::splat(*b.add(j.gi * cog + co0 + rr)); NV];
            }
        }
        let mut wp = d.packed.as_ptr().add(((j.gi * d.nblk + blk) * kk + kb0) * MR);
        for &off in offs {
            let bp = xp.add(off);
            let mut bv = [V::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = V::load(bp.add(v * l));
            }
            for (rr, a) in acc.iter_mut().enumerate() {
                let w = V::splat(*wp.add(rr));
                for (x, b) in a.iter_mut().zip(&bv) {
                    *x = V::fma(w, *b, *x);
                }
            }
            wp = wp.add(MR);
        }
        for (rr, a) in acc.iter().enumerate() {
            if rr >= mv {
                break;
            }
            if direct {
                let dst = yc.add(rr * out_vol + segs[0].y);
                for (v, x) in a.iter().enumerate() {
                    x.store(dst.add(v * l));
                }
            } else {
                let t = &mut tmp[rr];
                for (v, x) in a.iter().enumerate() {
                    x.store(t.as_mut_ptr().add(v * l));
                }
                for s in segs {
                    std::ptr::copy_nonoverlapping(t.as_ptr().add(s.t), yc.add(rr * out_vol + s.y), s.len);
                }
            }
        }
    }
}

/// Output channels and kernel taps per weight-gradient tile (9 accumulators, 3 + 3 loads).
const WM: usize = 3;
const WK: usize = 3;

/// A block of output rows of one image for the direct weight gradient.
pub struct Wgrad<'a, T> {
    d: &'a Direct<T>,
    /// The image's padded copy and output gradient.
    buf: *const T,
    gy: *const T,
    rows: (usize, usize),
    /// Vector accumulators: `[group][co block][tap block][WM][WK][lanes]`.
    acc: *mut T,
}

/// Accumulates `gy[co, p] * x[p + off[k]]` over rows `rows`, lane by lane, for every
/// (channel block, tap block) tile; blocks of rows keep the data of one pass in L1.
#[inline(always)]
unsafe fn wgrad_rows<V: Simd, const WM: usize, const WK: usize>(j: &Wgrad<'_, V::E>) {
    let d = j.d;
    let l = V::LANES;
    let g = &d.g;
    let [_, oh_n, ow_n] = g.out;
    let [sd, sh, _] = g.stride;
    let (kk, cog, ov) = (g.krows(), g.cog(), g.out_vol());
    let (ncb, nkb) = (cog.div_ceil(WM), kk.div_ceil(WK));
    let tile_len = WM * WK * l;
    // Rows per pass: about 16 KB of output gradient.
    let rb = (4096 / (cog * ow_n).max(1)).max(1);
    for gi in 0..g.groups {
        let gbuf = j.buf.add(gi * g.cig() * d.plane);
        let gyg = j.gy.add(gi * cog * ov);
        let mut r0 = j.rows.0;
        while r0 < j.rows.1 {
            let r1 = (r0 + rb).min(j.rows.1);
            for cb in 0..ncb {
                let co0 = cb * WM;
                let mv = (cog - co0).min(WM);
                for kb in 0..nkb {
                    let k0 = kb * WK;
                    let mut offs = [0; WK];
                    for (t, o) in offs.iter_mut().enumerate() {
                        *o = d.offsets[(k0 + t).min(kk - 1)];
                    }
                    let ap = j.acc.add(((gi * ncb + cb) * nkb + kb) * tile_len);
                    let mut acc = [[V::zero(); WK]; WM];
                    for (m, a) in acc.iter_mut().enumerate() {
                        for (t, x) in a.iter_mut().enumerate() {
                            *x = V::load(ap.add((m * WK + t) * l));
                        }
                    }
                    for r in r0..r1 {
                        let (od, oh) = (r / oh_n, r % oh_n);
                        let xrow = gbuf.add(od * sd * d.dstride + oh * sh * d.hstride);
                        let gyrow = gyg.add(co0 * ov + r * ow_n);
                        // Channels past the block's end re-read its last one; their sums
                        // are never stored.
                        let mut gp = [gyrow; WM];
                        for (m, p) in gp.iter_mut().enumerate() {
                            *p = gyrow.add(m.min(mv - 1) * ov);
                        }
                        let mut xp = [xrow; WK];
                        for (p, &o) in xp.iter_mut().zip(&offs) {
                            *p = xrow.add(o);
                        }
                        let mut ow0 = 0;
                        while ow0 < ow_n {
                            let nv = ow_n - ow0;
                            let mut gv = [V::zero(); WM];
                            let mut xv = [V::zero(); WK];
                            if nv >= l {
                                for (v, p) in gv.iter_mut().zip(&gp) {
                                    *v = V::load(p.add(ow0));
                                }
                                for (v, p) in xv.iter_mut().zip(&xp) {
                                    *v = V::load(p.add(ow0));
                                }
                            } else {
                                // Past the row's end lanes are zero in both operands (the
                                // next row's infinities would turn 0 * inf into NaN).
                                for (v, p) in gv.iter_mut().zip(&gp) {
                                    *v = V::load_partial(p.add(ow0), nv);
                                }
                                for (v, p) in xv.iter_mut().zip(&xp) {
                                    *v = V::load_partial(p.add(ow0), nv);
                                }
                            }
                            for (a, gm) in acc.iter_mut().zip(&gv) {
                                for (x, xt) in a.iter_mut().zip(&xv) {
                                    *x = V::fma(*gm, *xt, *x);
                                }
                            }
                            ow0 += l;
                        }
                    }
                    for (m, a) in acc.iter().enumerate() {
                        for (t, x) in a.iter().enumerate() {
                            x.store(ap.add((m * WK + t) * l));
                        }
                    }
                }
            }
            r0 = r1;
        }
    }
}

/// Runs a prepared direct convolution over all images.
unsafe fn direct_run<T: ConvFloat>(d: &Direct<T>, x: *const T, bias: Option<*const T>, y: *mut T) {
    let g = &d.g;
    let (in_img, out_img) = (g.c_in * g.in_vol(), g.c_out * g.out_vol());
    let nrows = g.out[0] * g.out[1];
    let nt = threads();
    let work = g.n * g.c_out * g.krows() * g.out_vol();
    let (xs, ys, bs) = (SendPtr(x as *mut T), SendPtr(y), bias.map(|b| SendPtr(b as *mut T)));
    if nt == 1 || work < PAR_WORK {
        let mut buf = vec![T::zero(); d.padded_len()];
        for i in 0..g.n {
            d.pad(x.add(i * in_img), buf.as_mut_ptr());
            for gi in 0..g.groups {
                d.rows(buf.as_ptr(), y.add(i * out_img), bias, gi, (0, nrows));
            }
        }
    } else if g.n >= nt {
        (0..g.n).into_par_iter().for_each_init(
            || vec![T::zero(); d.padded_len()],
            |buf, i| {
                let (xs, ys, bs) = (xs, ys, bs);
                d.pad(xs.get().add(i * in_img), buf.as_mut_ptr());
                for gi in 0..g.groups {
                    d.rows(buf.as_ptr(), ys.get().add(i * out_img), bs.map(|b| b.get() as *const T), gi, (0, nrows));
                }
            },
        );
    } else {
        // Few images: split each image's rows (and groups) across threads.
        let chunks = (4 * nt).div_ceil(g.groups).clamp(1, nrows);
        let per = nrows.div_ceil(chunks);
        let mut buf = vec![T::zero(); d.padded_len()];
        for i in 0..g.n {
            d.pad(x.add(i * in_img), buf.as_mut_ptr());
            let bp = SendPtr(buf.as_mut_ptr());
            (0..g.groups * chunks).into_par_iter().for_each(|t| {
                let (gi, ch) = (t / chunks, t % chunks);
                let (r0, r1) = (ch * per, ((ch + 1) * per).min(nrows));
                if r0 < r1 {
                    let (ys, bp, bs) = (ys, bp, bs);
                    d.rows(bp.get(), ys.get().add(i * out_img), bs.map(|b| b.get() as *const T), gi, (r0, r1));
                }
            });
        }
    }
}

/// Fills each output channel with its bias (or zero): the result when `K == 0`.
unsafe fn fill_bias<T: ConvFloat>(g: &Geom, bias: Option<*const T>, y: *mut T) {
    let ov = g.out_vol();
    for i in 0..g.n {
        for c in 0..g.c_out {
            let v = bias.map_or(T::zero(), |b| *b.add(c));
            let p = y.add((i * g.c_out + c) * ov);
            for j in 0..ov {
                *p.add(j) = v;
            }
        }
    }
}

/// Which algorithm the forward pass uses; `Auto` picks the direct kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Auto,
    Direct,
    Im2col,
}

/// `y = conv(x, w) + bias`; `y` is fully written.
///
/// # Safety
/// `x` is `(n, c_in, *input)`, `w` `(c_out, c_in/groups, *kernel)`, `bias` `(c_out,)` and
/// `y` `(n, c_out, *out)`, all contiguous, with `g` validated (sizes consistent with the
/// convolution arithmetic, groups dividing the channels, positive strides/dilations).
pub unsafe fn forward<T: ConvFloat>(g: &Geom, x: *const T, w: *const T, bias: Option<*const T>, y: *mut T, algo: Algo) {
    if g.n == 0 || g.c_out == 0 || g.out_vol() == 0 {
        return;
    }
    if g.krows() == 0 {
        return fill_bias(g, bias, y);
    }
    if algo == Algo::Direct || (algo == Algo::Auto && direct_pays(g)) {
        direct_run(&Direct::new(*g, w), x, bias, y)
    } else {
        forward_im2col(g, x, w, bias, y)
    }
}

/// Whether the direct kernel beats im2col + GEMM. Its tiles span `tile_width` output
/// positions: along a row (narrow rows, such as 7x7 maps with a stride, leave much of
/// the last tile idle) or, for stride 1, across rows of the padded frame (the halo
/// columns are wasted). Waste only pays while `K` is small enough that building the
/// im2col matrix dominates.
fn direct_pays(g: &Geom) -> bool {
    let (ow, nr) = (g.out[2], tile_width());
    let mut cover = ow.div_ceil(nr) * nr;
    if g.stride[1] == 1 && g.stride[2] == 1 {
        cover = cover.min(ow + g.dil[2] * (g.kernel[2] - 1));
    }
    ow as f64 / cover as f64 >= 0.75 || g.krows() <= 64
}

/// Output columns per tile of the direct kernel (two vectors of float32).
fn tile_width() -> usize {
    if cfg!(target_arch = "x86_64") && level() != Level::Baseline {
        16
    } else {
        8
    }
}

/// Forward through im2col + GEMM (kept as a cross-check and for benchmarks).
unsafe fn forward_im2col<T: ConvFloat>(g: &Geom, x: *const T, w: *const T, bias: Option<*const T>, y: *mut T) {
    let (in_img, out_img) = (g.c_in * g.in_vol(), g.c_out * g.out_vol());
    let (kk, cog, ov, ow_n) = (g.krows(), g.cog(), g.out_vol(), g.out[2]);
    let nrows = g.out[0] * g.out[1];
    let rpc = rows_per_chunk(g);
    let (xs, ys, ws) = (SendPtr(x as *mut T), SendPtr(y), SendPtr(w as *mut T));
    let bs = bias.map(|b| SendPtr(b as *mut T));
    let image = |i: usize, col: &mut Vec<T>, inner: usize| {
        let (w, bias) = (ws.get() as *const T, bs.map(|b| b.get() as *const T));
        let (xi, yi) = (xs.get().add(i * in_img) as *const T, ys.get().add(i * out_img));
        if let Some(b) = bias {
            for c in 0..g.c_out {
                let v = *b.add(c);
                for j in 0..ov {
                    *yi.add(c * ov + j) = v;
                }
            }
        }
        let mut r0 = 0;
        while r0 < nrows {
            let r1 = (r0 + rpc).min(nrows);
            let cols = (r1 - r0) * ow_n;
            col.resize(g.c_in * g.kvol() * cols, T::zero());
            im2col(g, xi, g.c_in, r0, r1, col.as_mut_ptr());
            for gi in 0..g.groups {
                gemm_into(
                    (cog, cols, kk),
                    (w.add(gi * cog * kk), kk as isize, 1),
                    (col.as_ptr().add(gi * kk * cols), cols as isize, 1),
                    yi.add(gi * cog * ov + r0 * ow_n),
                    ov as isize,
                    bias.is_some(),
                    inner,
                );
            }
            r0 = r1;
        }
    };
    per_image(g, image);
}

/// Runs `image(i, scratch, gemm_threads)` for every image: in parallel over images when
/// there are enough of them, else one after another with threaded GEMMs.
unsafe fn per_image<T: ConvFloat>(g: &Geom, image: impl Fn(usize, &mut Vec<T>, usize) + Sync) {
    let nt = threads();
    let work = g.n * g.c_out * g.krows() * g.out_vol();
    if nt > 1 && g.n >= nt && work >= PAR_WORK {
        (0..g.n).into_par_iter().for_each_init(Vec::new, |col, i| image(i, col, 1));
    } else {
        let mut col = Vec::new();
        let inner = if work >= PAR_WORK { nt } else { 1 };
        for i in 0..g.n {
            image(i, &mut col, inner);
        }
    }
}

// ---- backward -------------------------------------------------------------------------

/// The input gradient: `gx = conv_transpose(gy, w)`; `gx` is fully written.
///
/// # Safety
/// `gy` is `(n, c_out, *out)`, `w` `(c_out, c_in/groups, *kernel)`, `gx` `(n, c_in,
/// *input)`, contiguous, `g` validated. `g.out` may be smaller than the convolution of
/// `g.input` would give (transposed convolutions with `output_padding`): positions no
/// output reaches get zero.
pub unsafe fn backward_input<T: ConvFloat>(g: &Geom, gy: *const T, w: *const T, gx: *mut T, algo: Algo) {
    let in_total = g.n * g.c_in * g.in_vol();
    if in_total == 0 {
        return;
    }
    if g.c_out == 0 || g.out_vol() == 0 || g.krows() == 0 {
        std::ptr::write_bytes(gx, 0, in_total);
        return;
    }
    // Stride 1: a direct convolution of gy with the flipped, transposed kernel, padded by
    // the dilated kernel extent minus the forward padding (which must not be negative).
    let reach = (0..3).all(|i| g.pad[i] <= g.dil[i] * (g.kernel[i] - 1));
    if g.stride == [1, 1, 1] && reach {
        let mut pad = [0; 3];
        for (i, p) in pad.iter_mut().enumerate() {
            *p = g.dil[i] * (g.kernel[i] - 1) - g.pad[i];
        }
        let gt = Geom { c_in: g.c_out, c_out: g.c_in, input: g.out, out: g.input, pad, ..*g };
        let direct = match algo {
            Algo::Im2col => false,
            Algo::Direct => true,
            Algo::Auto => direct_pays(&gt),
        };
        if direct {
            return backward_input_direct(g, &gt, gy, w, gx);
        }
    }
    let (in_img, out_img) = (g.c_in * g.in_vol(), g.c_out * g.out_vol());
    let (kk, cog, ov, ow_n) = (g.krows(), g.cog(), g.out_vol(), g.out[2]);
    let nrows = g.out[0] * g.out[1];
    let rpc = rows_per_chunk(g);
    std::ptr::write_bytes(gx, 0, in_total);
    let (gys, ws, gxs) = (SendPtr(gy as *mut T), SendPtr(w as *mut T), SendPtr(gx));
    let image = |i: usize, col: &mut Vec<T>, inner: usize| {
        let w = ws.get() as *const T;
        let (gyi, gxi) = (gys.get().add(i * out_img) as *const T, gxs.get().add(i * in_img));
        let mut r0 = 0;
        while r0 < nrows {
            let r1 = (r0 + rpc).min(nrows);
            let cols = (r1 - r0) * ow_n;
            col.resize(g.c_in * g.kvol() * cols, T::zero());
            for gi in 0..g.groups {
                // dcol_g (kk x cols) = W_g^T (kk x cog) @ gy_g (cog x cols)
                gemm_into(
                    (kk, cols, cog),
                    (w.add(gi * cog * kk), 1, kk as isize),
                    (gyi.add(gi * cog * ov + r0 * ow_n), ov as isize, 1),
                    col.as_mut_ptr().add(gi * kk * cols),
                    cols as isize,
                    false,
                    inner,
                );
            }
            col2im(g, col.as_ptr(), g.c_in, r0, r1, gxi);
            r0 = r1;
        }
    };
    per_image(g, image);
}

/// The stride-1 input gradient as a forward convolution with geometry `gt`.
unsafe fn backward_input_direct<T: ConvFloat>(g: &Geom, gt: &Geom, gy: *const T, w: *const T, gx: *mut T) {
    let (cig, cog, kv) = (g.cig(), g.cog(), g.kvol());
    let mut wt = vec![T::zero(); g.c_in * cog * kv];
    for gi in 0..g.groups {
        for co in 0..cog {
            for ci in 0..cig {
                let src = w.add(((gi * cog + co) * cig + ci) * kv);
                let dst = ((gi * cig + ci) * cog + co) * kv;
                for k in 0..kv {
                    wt[dst + kv - 1 - k] = *src.add(k);
                }
            }
        }
    }
    direct_run(&Direct::new(*gt, wt.as_ptr()), gy, None, gx)
}

/// The weight gradient through the padded image (no im2col matrix): tasks of (image,
/// rows) accumulate into private vector accumulators, summed at the end.
unsafe fn backward_weight_direct<T: ConvFloat>(g: &Geom, gy: *const T, x: *const T, gw: *mut T) {
    let d = Direct::new(*g, std::ptr::null());
    let lanes = d.nr / 2;
    let (kk, cog) = (g.krows(), g.cog());
    let (ncb, nkb) = (cog.div_ceil(WM), kk.div_ceil(WK));
    let acc_len = g.groups * ncb * nkb * WM * WK * lanes;
    let (in_img, out_img) = (g.c_in * g.in_vol(), g.c_out * g.out_vol());
    let nrows = g.out[0] * g.out[1];
    let nt = threads();
    let work = g.n * g.c_out * kk * g.out_vol();
    let chunks = if nt == 1 || work < PAR_WORK || g.n >= nt { 1 } else { (2 * nt).div_ceil(g.n).min(nrows) };
    let per = nrows.div_ceil(chunks);
    let tasks = g.n * chunks;
    let (gys, xs) = (SendPtr(gy as *mut T), SendPtr(x as *mut T));
    // State per rayon fold: padded buffer, which image it holds, accumulators.
    let run = |(mut buf, mut held, mut acc): (Vec<T>, usize, Vec<T>), t: usize| {
        let (i, c) = (t / chunks, t % chunks);
        let (r0, r1) = (c * per, ((c + 1) * per).min(nrows));
        if r0 < r1 {
            if held != i {
                d.pad(xs.get().add(i * in_img), buf.as_mut_ptr());
                held = i;
            }
            let job = Wgrad {
                d: &d,
                buf: buf.as_ptr(),
                gy: gys.get().add(i * out_img),
                rows: (r0, r1),
                acc: acc.as_mut_ptr(),
            };
            T::run_wgrad(&job);
        }
        (buf, held, acc)
    };
    let init = || (vec![T::zero(); d.padded_len()], usize::MAX, vec![T::zero(); acc_len]);
    let partials: Vec<Vec<T>> = if chunks == 1 && (nt == 1 || work < PAR_WORK) {
        vec![(0..tasks).fold(init(), run).2]
    } else {
        (0..tasks).into_par_iter().fold(init, run).map(|s| s.2).collect()
    };
    let mut sum = vec![T::zero(); acc_len];
    for p in partials {
        for (s, v) in sum.iter_mut().zip(p) {
            *s = T::add(*s, v);
        }
    }
    let tile_len = WM * WK * lanes;
    for gi in 0..g.groups {
        for cb in 0..ncb {
            for kb in 0..nkb {
                let tile = &sum[((gi * ncb + cb) * nkb + kb) * tile_len..][..tile_len];
                for m in 0..WM.min(cog - cb * WM) {
                    for t in 0..WK.min(kk - kb * WK) {
                        let v = tile[(m * WK + t) * lanes..][..lanes].iter().fold(T::zero(), |a, &b| T::add(a, b));
                        *gw.add((gi * cog + cb * WM + m) * kk + kb * WK + t) = v;
                    }
                }
            }
        }
    }
}

/// The weight gradient: `gw = sum_n gy_n @ im2col(x_n)^T` per group (or the direct
/// kernel for small `K`); `gw` is fully written.
///
/// # Safety
/// `gy` is `(n, c_out, *out)`, `x` `(n, c_in, *input)`, `gw` `(c_out, c_in/groups,
/// *kernel)`, contiguous, `g` validated.
pub unsafe fn backward_weight<T: ConvFloat>(g: &Geom, gy: *const T, x: *const T, gw: *mut T, algo: Algo) {
    let (kk, cog, ov, ow_n) = (g.krows(), g.cog(), g.out_vol(), g.out[2]);
    let wlen = g.c_out * kk;
    if wlen == 0 {
        return;
    }
    std::ptr::write_bytes(gw, 0, wlen);
    if g.n == 0 || ov == 0 {
        return;
    }
    // Each tile re-reads its rows of gy and x, so the direct kernel pays for small K only.
    if algo == Algo::Direct || (algo == Algo::Auto && kk <= 64) {
        return backward_weight_direct(g, gy, x, gw);
    }
    let (in_img, out_img) = (g.c_in * g.in_vol(), g.c_out * g.out_vol());
    let nrows = g.out[0] * g.out[1];
    let rpc = rows_per_chunk(g);
    let (gys, xs) = (SendPtr(gy as *mut T), SendPtr(x as *mut T));
    let image = |i: usize, col: &mut Vec<T>, acc: *mut T, inner: usize| {
        let (gyi, xi) = (gys.get().add(i * out_img) as *const T, xs.get().add(i * in_img) as *const T);
        let mut r0 = 0;
        while r0 < nrows {
            let r1 = (r0 + rpc).min(nrows);
            let cols = (r1 - r0) * ow_n;
            col.resize(g.c_in * g.kvol() * cols, T::zero());
            im2col(g, xi, g.c_in, r0, r1, col.as_mut_ptr());
            for gi in 0..g.groups {
                // gw_g (cog x kk) += gy_g (cog x cols) @ col_g^T (cols x kk)
                gemm_into(
                    (cog, kk, cols),
                    (gyi.add(gi * cog * ov + r0 * ow_n), ov as isize, 1),
                    (col.as_ptr().add(gi * kk * cols), 1, cols as isize),
                    acc.add(gi * cog * kk),
                    kk as isize,
                    true,
                    inner,
                );
            }
            r0 = r1;
        }
    };
    let nt = threads();
    let work = g.n * g.c_out * kk * ov;
    if nt > 1 && g.n >= nt && work >= PAR_WORK {
        // Each task sums its images into a private gradient; the partials are added last.
        let per = g.n.div_ceil(nt);
        let partials: Vec<Vec<T>> = (0..g.n.div_ceil(per))
            .into_par_iter()
            .map(|t| {
                let mut acc = vec![T::zero(); wlen];
                let mut col = Vec::new();
                for i in t * per..((t + 1) * per).min(g.n) {
                    image(i, &mut col, acc.as_mut_ptr(), 1);
                }
                acc
            })
            .collect();
        for p in partials {
            for (j, v) in p.into_iter().enumerate() {
                *gw.add(j) = T::add(*gw.add(j), v);
            }
        }
    } else {
        let mut col = Vec::new();
        let inner = if work >= PAR_WORK { nt } else { 1 };
        for i in 0..g.n {
            image(i, &mut col, gw, inner);
        }
    }
}

/// `y[n, c, ...] += bias[c]` over a contiguous `(n, c, vol)` buffer.
///
/// # Safety
/// `y` holds `n * c * vol` elements, `bias` `c`.
pub unsafe fn add_bias<T: ConvFloat>(n: usize, c: usize, vol: usize, bias: *const T, y: *mut T) {
    for i in 0..n {
        for ch in 0..c {
            let b = *bias.add(ch);
            let p = y.add((i * c + ch) * vol);
            for j in 0..vol {
                *p.add(j) = T::add(*p.add(j), b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    /// The direct kernels and im2col + GEMM (col2im for the input gradient) agree, across
    /// strides, dilations, padding and groups, in float64 and float32.
    #[test]
    fn direct_matches_im2col() {
        let mut seed = 7u64;
        for (stride, pad, dil, groups) in [
            ([1, 1, 1], [0, 1, 1], [1, 1, 1], 1),
            ([1, 1, 1], [1, 0, 2], [2, 1, 1], 2),
            ([1, 2, 3], [1, 0, 2], [2, 1, 1], 2),
            ([2, 1, 2], [0, 2, 1], [1, 2, 3], 1),
        ] {
            let (n, c_in, c_out) = (2, 4, 14);
            let (input, kernel) = ([5, 7, 37], [2, 3, 3]);
            let mut out = [0; 3];
            for i in 0..3 {
                out[i] = (input[i] + 2 * pad[i] - dil[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
            }
            let g = Geom { n, c_in, c_out, groups, input, out, kernel, stride, pad, dil };
            let x: Vec<f64> = (0..n * c_in * g.in_vol()).map(|_| lcg(&mut seed)).collect();
            let w: Vec<f64> = (0..c_out * g.krows()).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f64> = (0..c_out).map(|_| lcg(&mut seed)).collect();
            let gy: Vec<f64> = (0..n * c_out * g.out_vol()).map(|_| lcg(&mut seed)).collect();
            let close = |a: &[f64], b: &[f64], tol: f64| {
                for (a, b) in a.iter().zip(b) {
                    assert!((a - b).abs() < tol, "{a} vs {b}");
                }
            };
            let mut y = [vec![0.0; n * c_out * g.out_vol()], vec![0.0; n * c_out * g.out_vol()]];
            let mut gx = [vec![0.0; n * c_in * g.in_vol()], vec![0.0; n * c_in * g.in_vol()]];
            for (i, algo) in [Algo::Direct, Algo::Im2col].into_iter().enumerate() {
                unsafe {
                    forward(&g, x.as_ptr(), w.as_ptr(), Some(b.as_ptr()), y[i].as_mut_ptr(), algo);
                    backward_input(&g, gy.as_ptr(), w.as_ptr(), gx[i].as_mut_ptr(), algo);
                }
            }
            let mut gw = [vec![0.0; c_out * g.krows()], vec![0.0; c_out * g.krows()]];
            for (i, algo) in [Algo::Direct, Algo::Im2col].into_iter().enumerate() {
                unsafe { backward_weight(&g, gy.as_ptr(), x.as_ptr(), gw[i].as_mut_ptr(), algo) };
            }
            close(&y[0], &y[1], 1e-12);
            close(&gx[0], &gx[1], 1e-12);
            close(&gw[0], &gw[1], 1e-11);
            // float32 through the same kernels
            let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let (x32, w32, b32) = (f(&x), f(&w), f(&b));
            let mut y32 = vec![0.0f32; y[0].len()];
            unsafe { forward(&g, x32.as_ptr(), w32.as_ptr(), Some(b32.as_ptr()), y32.as_mut_ptr(), Algo::Direct) };
            close(&y32.iter().map(|&a| a as f64).collect::<Vec<_>>(), &y[1], 1e-4);
        }
    }
}
