//! AVX2+FMA micro- and macro-kernels. float32: 6x16 tiles (12 ymm accumulators; per
//! step two loads of B, six broadcasts of A, twelve FMAs). float64: 6x8 tiles, the same
//! register plan with four lanes. The macro-kernel walks the packed blocks (B micro-panel
//! outer so it stays in L1, A micro-panels inner from L2) and writes each tile straight
//! into C when it is whole and C's rows are unit-stride, else through a scratch tile.

use std::arch::x86_64::*;

use super::{pack, Block, Kernel};

/// Writes (or adds, if `acc`) the `mr x nr` corner of a scratch tile with row stride
/// `ld` into C.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn merge<T: Copy + std::ops::Add<Output = T>>(
    tile: *const T,
    ld: usize,
    mr: usize,
    nr: usize,
    c: *mut T,
    rs_c: isize,
    cs_c: isize,
    acc: bool,
) {
    for i in 0..mr {
        for j in 0..nr {
            let v = *tile.add(i * ld + j);
            let dst = c.offset(i as isize * rs_c + j as isize * cs_c);
            *dst = if acc { *dst + v } else { v };
        }
    }
}

/// How many steps before the end of its loop a micro-kernel prefetches its C tile.
const C_PREFETCH_STEPS: usize = 32;

/// The six rows of an A micro-panel: lane `i` at `a + min(i, mr - 1) * ls` (rows past the
/// matrix repeat the last one; their results are discarded).
#[inline(always)]
fn rows<T>(a: *const T, ls: isize, mr: usize) -> [*const T; 6] {
    std::array::from_fn(|i| a.wrapping_offset(i.min(mr - 1) as isize * ls))
}

/// 6x16 float32 tile: `c[i*ldc + j] (+)= sum_p a[i][p*aps] * b[p*bps + j]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn ukernel_f32(
    kc: usize,
    a: [*const f32; 6],
    aps: isize,
    b: *const f32,
    bps: isize,
    c: *mut f32,
    ldc: isize,
    acc: bool,
    next: *const f32,
) {
    for i in 0..6 {
        _mm_prefetch::<_MM_HINT_T1>(next.wrapping_offset(i as isize * ldc) as *const i8);
        _mm_prefetch::<_MM_HINT_T1>(next.wrapping_offset(i as isize * ldc + 15) as *const i8);
    }
    let mut r = [[_mm256_setzero_ps(); 2]; 6];
    let mut b = b;
    let mut off = 0isize;
    macro_rules! step {
        () => {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            for (ri, ai) in r.iter_mut().zip(a) {
                let x = _mm256_broadcast_ss(&*ai.offset(off));
                ri[0] = _mm256_fmadd_ps(x, b0, ri[0]);
                ri[1] = _mm256_fmadd_ps(x, b1, ri[1]);
            }
            off += aps;
            b = b.offset(bps);
        };
    }
    // C's lines are fetched shortly before the end: fetched at the start, they would
    // often be evicted again by A and B (C's rows share L1 sets when its row stride is
    // a multiple of 4 KiB).
    let tail = kc.min(C_PREFETCH_STEPS);
    for _ in 0..kc - tail {
        step!();
    }
    for i in 0..6 {
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i as isize * ldc) as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i as isize * ldc + 15) as *const i8);
    }
    for _ in 0..tail {
        step!();
    }
    for (i, ri) in r.iter().enumerate() {
        let cp = c.offset(i as isize * ldc);
        let (mut v0, mut v1) = (ri[0], ri[1]);
        if acc {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cp));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cp.add(8)));
        }
        _mm256_storeu_ps(cp, v0);
        _mm256_storeu_ps(cp.add(8), v1);
    }
}

/// 6x8 float64 tile: `c[i*ldc + j] (+)= sum_p a[i][p*aps] * b[p*bps + j]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn ukernel_f64(
    kc: usize,
    a: [*const f64; 6],
    aps: isize,
    b: *const f64,
    bps: isize,
    c: *mut f64,
    ldc: isize,
    acc: bool,
    next: *const f64,
) {
    for i in 0..6 {
        _mm_prefetch::<_MM_HINT_T1>(next.wrapping_offset(i as isize * ldc) as *const i8);
        _mm_prefetch::<_MM_HINT_T1>(next.wrapping_offset(i as isize * ldc + 7) as *const i8);
    }
    let mut r = [[_mm256_setzero_pd(); 2]; 6];
    let mut b = b;
    let mut off = 0isize;
    macro_rules! step {
        () => {
            let b0 = _mm256_loadu_pd(b);
            let b1 = _mm256_loadu_pd(b.add(4));
            for (ri, ai) in r.iter_mut().zip(a) {
                let x = _mm256_broadcast_sd(&*ai.offset(off));
                ri[0] = _mm256_fmadd_pd(x, b0, ri[0]);
                ri[1] = _mm256_fmadd_pd(x, b1, ri[1]);
            }
            off += aps;
            b = b.offset(bps);
        };
    }
    // C's lines are fetched shortly before the end: fetched at the start, they would
    // often be evicted again by A and B (C's rows share L1 sets when its row stride is
    // a multiple of 4 KiB).
    let tail = kc.min(C_PREFETCH_STEPS);
    for _ in 0..kc - tail {
        step!();
    }
    for i in 0..6 {
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i as isize * ldc) as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i as isize * ldc + 7) as *const i8);
    }
    for _ in 0..tail {
        step!();
    }
    for (i, ri) in r.iter().enumerate() {
        let cp = c.offset(i as isize * ldc);
        let (mut v0, mut v1) = (ri[0], ri[1]);
        if acc {
            v0 = _mm256_add_pd(v0, _mm256_loadu_pd(cp));
            v1 = _mm256_add_pd(v1, _mm256_loadu_pd(cp.add(4)));
        }
        _mm256_storeu_pd(cp, v0);
        _mm256_storeu_pd(cp.add(4), v1);
    }
}

macro_rules! macro_kernel {
    ($name:ident, $t:ty, $ukernel:ident, $mr:expr, $nr:expr) => {
        /// `C[mc x nc] (+)= A * B` over the blocks' `MR x NR` tiles.
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            mc: usize,
            nc: usize,
            kc: usize,
            a: Block<$t>,
            b: Block<$t>,
            c: *mut $t,
            rs_c: isize,
            cs_c: isize,
            acc: bool,
        ) {
            let mut tile = [0.0 as $t; $mr * $nr];
            for jr in (0..nc).step_by($nr) {
                let nr = (nc - jr).min($nr);
                let (bp, bps) = if nr < $nr && !b.edge.is_null() {
                    (b.edge, $nr)
                } else {
                    (b.ptr.offset((jr / $nr) as isize * b.panel), b.ps)
                };
                for ir in (0..mc).step_by($mr) {
                    let mr = (mc - ir).min($mr);
                    let ap = rows(a.ptr.wrapping_offset((ir / $mr) as isize * a.panel), a.ls, mr);
                    let cp = c.offset(ir as isize * rs_c + jr as isize * cs_c);
                    // The next tile's C, fetched into L2 one tile ahead.
                    let next = if ir + $mr < mc {
                        cp.wrapping_offset($mr * rs_c)
                    } else {
                        c.wrapping_offset((jr + $nr) as isize * cs_c)
                    };
                    if mr == $mr && nr == $nr && cs_c == 1 {
                        $ukernel(kc, ap, a.ps, bp, bps, cp, rs_c, acc, next);
                    } else {
                        $ukernel(kc, ap, a.ps, bp, bps, tile.as_mut_ptr(), $nr, false, next);
                        merge(tile.as_ptr(), $nr, mr, nr, cp, rs_c, cs_c, acc);
                    }
                }
            }
        }
    };
}

macro_kernel!(macro_f32, f32, ukernel_f32, 6, 16);
macro_kernel!(macro_f64, f64, ukernel_f64, 6, 8);

macro_rules! packer {
    ($name:ident, $t:ty, $w:expr) => {
        /// [`pack::pack`] with this panel width, compiled for AVX2.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $name(len: usize, kc: usize, src: *const $t, ls: isize, ps: isize, dst: *mut $t) {
            pack::pack($w, len, kc, src, ls, ps, dst)
        }
    };
}

packer!(pack_a_f32, f32, 6);
packer!(pack_b_f32, f32, 16);
packer!(pack_a_f64, f64, 6);
packer!(pack_b_f64, f64, 8);

// Blocking for Zen 2/3 (32 KiB L1d, 512 KiB L2 per core, shared L3), as BLIS uses there:
// a KC x NR micro-panel of B is 16 KiB (L1), an MC x KC block of A 144 KiB (L2), a
// KC x NC block of B 4 MiB (float32; 8 MiB float64) for L3.
impl Kernel for f32 {
    const MR: usize = 6;
    const NR: usize = 16;
    const KC: usize = 256;
    const MC: usize = 144;
    const NC: usize = 4080;

    #[inline]
    unsafe fn macro_kernel(
        mc: usize,
        nc: usize,
        kc: usize,
        a: Block<f32>,
        b: Block<f32>,
        c: *mut f32,
        rs_c: isize,
        cs_c: isize,
        acc: bool,
    ) {
        macro_f32(mc, nc, kc, a, b, c, rs_c, cs_c, acc)
    }

    #[inline]
    unsafe fn pack_a(len: usize, kc: usize, src: *const f32, ls: isize, ps: isize, dst: *mut f32) {
        pack_a_f32(len, kc, src, ls, ps, dst)
    }

    #[inline]
    unsafe fn pack_b(len: usize, kc: usize, src: *const f32, ls: isize, ps: isize, dst: *mut f32) {
        pack_b_f32(len, kc, src, ls, ps, dst)
    }
}

impl Kernel for f64 {
    const MR: usize = 6;
    const NR: usize = 8;
    const KC: usize = 256;
    const MC: usize = 72;
    const NC: usize = 4080;

    #[inline]
    unsafe fn macro_kernel(
        mc: usize,
        nc: usize,
        kc: usize,
        a: Block<f64>,
        b: Block<f64>,
        c: *mut f64,
        rs_c: isize,
        cs_c: isize,
        acc: bool,
    ) {
        macro_f64(mc, nc, kc, a, b, c, rs_c, cs_c, acc)
    }

    #[inline]
    unsafe fn pack_a(len: usize, kc: usize, src: *const f64, ls: isize, ps: isize, dst: *mut f64) {
        pack_a_f64(len, kc, src, ls, ps, dst)
    }

    #[inline]
    unsafe fn pack_b(len: usize, kc: usize, src: *const f64, ls: isize, ps: isize, dst: *mut f64) {
        pack_b_f64(len, kc, src, ls, ps, dst)
    }
}
