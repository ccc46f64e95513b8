//! A BLIS-style float32/float64 matrix product for AVX2+FMA CPUs.
//!
//! Loop structure (per thread): `jc` over NC-column blocks of B and C, `pc` over KC-deep
//! slices of the inner dimension (B's `KC x NC` block is packed into NR-column panels,
//! meant for L3), `ic` over MC-row blocks of A (packed into MR-row panels, meant for L2),
//! then the macro-kernel's `jr`/`ir` loops over `MR x NR` register tiles. The first
//! `pc` slice writes C, later ones add to it, so C needs no initialisation.
//!
//! Operands are read through their strides: packing absorbs any layout, and where a
//! block would be used only a few times it is read in place instead (a row-major A whose
//! product has few columns, a row-major B with few rows), saving a copy per element.
//!
//! Threads: C is cut into a `tm x tn` grid of rectangles of whole register tiles, and
//! each thread packs what its rectangle needs. Rows split among threads means each packs
//! all of B, columns split means each packs all of A; the grid comes from a small cost
//! model (multiply-adds plus packing, whose cost depends on whether the operand's
//! strides make the pack a plain copy). Threads share nothing while they compute: no
//! barrier, and the rectangles are claimed first come, first served, so a helper that
//! starts late costs nothing (see `par` for how helpers are kept at hand).

#[cfg(target_arch = "x86_64")]
mod avx2;
// Only the x86 kernels instantiate the packing routines.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod pack;
mod par;

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::matmul::Mat;

/// One kernel family: register tile `MR x NR`, cache blocks `KC` (inner dimension), `MC`
/// (rows of A per packed block), `NC` (columns of B per packed block).
pub trait Kernel: Copy + Default + Send + Sync + 'static + std::ops::Add<Output = Self> {
    const MR: usize;
    const NR: usize;
    const KC: usize;
    const MC: usize;
    const NC: usize;

    /// `C[mc x nc] = (C if acc else 0) + A * B` for an `mc x kc` block of A and a
    /// `kc x nc` block of B.
    ///
    /// # Safety
    /// Only when [`available`] says so; the blocks must describe `mc x kc` and `kc x nc`
    /// readable elements (B's with `ls == 1`, or packed), C `mc x nc` writable ones.
    #[allow(clippy::too_many_arguments)]
    unsafe fn macro_kernel(
        mc: usize,
        nc: usize,
        kc: usize,
        a: Block<Self>,
        b: Block<Self>,
        c: *mut Self,
        rs_c: isize,
        cs_c: isize,
        acc: bool,
    );

    /// Packs `len` rows of A (lane stride `ls`) by `kc` steps (stride `ps`) into MR-row
    /// panels, as [`pack::pack`] describes.
    ///
    /// # Safety
    /// As for [`pack::pack`], and only when [`available`].
    unsafe fn pack_a(len: usize, kc: usize, src: *const Self, ls: isize, ps: isize, dst: *mut Self);

    /// Packs `len` columns of B into NR-column panels, as [`Kernel::pack_a`] does rows.
    ///
    /// # Safety
    /// As for [`pack::pack`], and only when [`available`].
    unsafe fn pack_b(len: usize, kc: usize, src: *const Self, ls: isize, ps: isize, dst: *mut Self);
}

/// Where the macro-kernel reads a block of A (or B): panel `q` (rows `q*MR..` of A, or
/// columns `q*NR..` of B) starts at `ptr + q * panel`, and in it the element of lane `l`
/// and step `p` (the inner dimension) is at `l * ls + p * ps`. A packed block has
/// `ls = 1`, `ps = MR` (`NR`), `panel = MR * kc`; a block read in place points into the
/// operand itself. B is read with vector loads, so its lanes must be contiguous
/// (`ls == 1`); when it is read in place, its last, partial panel (whose vector loads
/// would run past the matrix) is packed at `edge` (null when none). A's partial panels
/// need no copy: the kernel repeats the last row.
#[derive(Clone, Copy)]
pub struct Block<T> {
    pub ptr: *const T,
    pub ls: isize,
    pub ps: isize,
    pub panel: isize,
    pub edge: *const T,
}

/// Whether this CPU runs the kernels here (x86-64 with AVX2 and FMA).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::simd::level() >= super::simd::Level::Avx2
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Computes `C = A * B` here when this machine and product suit these kernels, and says
/// whether it did: float32/float64 on AVX2 machines (AVX-512 ones keep the `gemm`
/// crate, whose AVX-512 kernels use twice our vector width), for products not so narrow
/// that most of each register tile is wasted (the `gemm` crate does those, and
/// matrix-vector products, better).
///
/// # Safety
/// As for [`gemm`], except that any machine is fine.
#[allow(clippy::too_many_arguments)]
pub unsafe fn try_gemm<T: 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    rs_c: isize,
    cs_c: isize,
    threads: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::any::TypeId;
        /// The same views with the element type that `T` was found to be.
        unsafe fn go<T, U: Kernel>(
            (m, n, k): (usize, usize, usize),
            a: Mat<T>,
            b: Mat<T>,
            c: *mut T,
            (rs_c, cs_c): (isize, isize),
            threads: usize,
        ) -> bool {
            if m + 1 < U::MR || n < U::NR {
                return false;
            }
            let a = Mat { ptr: a.ptr as *const U, rs: a.rs, cs: a.cs };
            let b = Mat { ptr: b.ptr as *const U, rs: b.rs, cs: b.cs };
            gemm::<U>(m, n, k, a, b, c as *mut U, rs_c, cs_c, false, threads);
            true
        }
        if super::simd::level() == super::simd::Level::Avx2 {
            let t = TypeId::of::<T>();
            if t == TypeId::of::<f32>() {
                return go::<T, f32>((m, n, k), a, b, c, (rs_c, cs_c), threads);
            }
            if t == TypeId::of::<f64>() {
                return go::<T, f64>((m, n, k), a, b, c, (rs_c, cs_c), threads);
            }
        }
    }
    let _ = (m, n, k, a, b, c, rs_c, cs_c, threads);
    false
}

/// Below this many multiply-adds per thread another thread does not pay for its
/// fork/join and its own packing.
const MIN_WORK_PER_THREAD: usize = 1 << 17;

/// `C = A * B` (or `C += A * B` with `acc`) for `m x k` by `k x n`, on up to `threads`
/// rayon threads. Without `acc`, C's old contents are never read (NaNs there vanish).
///
/// # Safety
/// [`available`] must be true; the views must address valid `m x k`, `k x n` and `m x n`
/// matrices, `c` writable and not overlapping A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Kernel>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    rs_c: isize,
    cs_c: isize,
    acc: bool,
    threads: usize,
) {
    if m == 0 || n == 0 || (k == 0 && acc) {
        return;
    }
    let job = Job { k, a, b, c, rs_c, cs_c, acc };
    if k == 0 {
        for i in 0..m {
            for j in 0..n {
                *c.offset(i as isize * rs_c + j as isize * cs_c) = T::default();
            }
        }
        return;
    }
    let (mp, np) = (m.div_ceil(T::MR), n.div_ceil(T::NR));
    let work = m.saturating_mul(n).saturating_mul(k);
    let t = threads.min(work / MIN_WORK_PER_THREAD).min(mp * np).max(1);
    let (tm, tn) = grid::<T>(m, n, k, t, &job);
    if tm * tn == 1 {
        job.run(0..m, 0..n);
        return;
    }
    let shared = Arc::new(Shared { job, m, n, tm, tn, next: AtomicUsize::new(0), done: AtomicUsize::new(0) });
    par::run(shared, tm * tn - 1);
}

/// A product split into `tm x tn` rectangles of C, which the calling thread and its
/// helpers claim in turn. Helpers hold it through an `Arc`: one that comes after all
/// rectangles are claimed (maybe after `gemm` returned) only reads `next`, never A, B
/// or C.
struct Shared<T> {
    job: Job<T>,
    m: usize,
    n: usize,
    tm: usize,
    tn: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

impl<T: Kernel> par::Chunks for Shared<T> {
    fn work(&self) {
        let (mp, np) = (self.m.div_ceil(T::MR), self.n.div_ceil(T::NR));
        // Part `i` of `parts` of `len` lanes, cut at panel (width `w`) boundaries.
        let split = |parts: usize, panels: usize, w: usize, len: usize, i: usize| {
            (i * panels / parts * w).min(len)..((i + 1) * panels / parts * w).min(len)
        };
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.tm * self.tn {
                return;
            }
            let rows = split(self.tm, mp, T::MR, self.m, i / self.tn);
            let cols = split(self.tn, np, T::NR, self.n, i % self.tn);
            self.job.run(rows, cols);
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::Acquire) == self.tm * self.tn
    }
}

/// The `tm x tn` thread grid (`tm * tn <= t`) with the smallest estimated time per
/// thread: its tile's multiply-adds plus the packing it does.
fn grid<T: Kernel>(m: usize, n: usize, k: usize, t: usize, job: &Job<T>) -> (usize, usize) {
    // Rough cycles per packed element: a copy of contiguous runs, a transposing copy
    // (one scalar load/store per element), or a gather.
    let cost = |ls: isize, ps: isize| {
        if ls == 1 {
            0.15
        } else if ps == 1 {
            0.5
        } else {
            1.0
        }
    };
    let (ca, cb) = (cost(job.a.rs, job.a.cs), cost(job.b.cs, job.b.rs));
    let lanes = 64.0 / std::mem::size_of::<T>() as f64; // multiply-adds per cycle: 2 FMA pipes
    let (mp, np) = (m.div_ceil(T::MR), n.div_ceil(T::NR));
    let mut best = (f64::INFINITY, 1, 1);
    for tt in (1..=t).rev() {
        for tm in (1..=tt).filter(|d| tt % d == 0) {
            let tn = tt / tm;
            if tm > mp || tn > np {
                continue;
            }
            let rows = (mp.div_ceil(tm) * T::MR).min(m) as f64;
            let cols = (np.div_ceil(tn) * T::NR).min(n) as f64;
            let k = k as f64;
            let jc_blocks = (cols / T::NC as f64).ceil();
            let time = rows * cols * k / lanes + rows * k * jc_blocks * ca + cols * k * cb;
            if time < best.0 {
                best = (time, tm, tn);
            }
        }
        if best.0.is_finite() {
            break;
        }
    }
    (best.1, best.2)
}

/// The operands of one product, shared (read-only) by the threads working on it.
struct Job<T> {
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    rs_c: isize,
    cs_c: isize,
    acc: bool,
}

// SAFETY: threads read A and B and write disjoint rectangles of C.
unsafe impl<T> Send for Job<T> {}
unsafe impl<T> Sync for Job<T> {}

impl<T: Kernel> Job<T> {
    /// Computes the `rows x cols` rectangle of C on this thread.
    fn run(&self, rows: Range<usize>, cols: Range<usize>) {
        let k = self.k;
        let (a, b) = (self.a, self.b);
        // Even KC slices and MC blocks: 300 = 150 + 150 rather than 256 + 44.
        let kc_max = k.div_ceil(k.div_ceil(T::KC));
        let mlen = rows.len();
        let mc_max = mlen.div_ceil(mlen.div_ceil(T::MC)).next_multiple_of(T::MR);
        let nc_max = cols.len().min(T::NC).next_multiple_of(T::NR);
        // Which blocks to read in place (limits measured on Zen 3). Packing a row-major A
        // is a transposing copy of every element: it pays back over many column panels
        // and costs little when A is small. Packing a row-major B is a plain copy, which
        // pays once several row panels reuse it (unpacked, its rows fight over L1 sets
        // for power-of-two strides) unless the whole block is tiny.
        let size = std::mem::size_of::<T>();
        let a_direct = a.cs == 1 && (cols.len() <= 8 * T::NR || mlen * k * size <= 64 << 10);
        let b_direct = b.cs == 1 && (mlen <= 4 * T::MR || cols.len() * kc_max * size <= 16 << 10);
        // Both buffers start on a 64-byte line.
        let line = 64 / std::mem::size_of::<T>();
        let a_len = if a_direct { 0 } else { (mc_max * kc_max).next_multiple_of(line) };
        let b_len = if b_direct { T::NR * kc_max } else { nc_max * kc_max };
        let mut buf = Scratch::take((a_len + b_len) * std::mem::size_of::<T>());
        let pa = buf.as_mut_ptr() as *mut T;
        // SAFETY: the buffer holds a_len + b_len elements of T (aligned to 64).
        let pb = unsafe { pa.add(a_len) };
        for jc in cols.clone().step_by(T::NC) {
            let nc = (cols.end - jc).min(T::NC);
            let mut pc = 0;
            while pc < k {
                let kc = (k - pc).min(kc_max);
                // SAFETY: offsets stay inside the operands (the caller's contract), the
                // packed blocks fit the buffer, and this thread owns its C rectangle.
                unsafe {
                    let bsrc = b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs);
                    let bblock = if b_direct {
                        let full = nc / T::NR * T::NR;
                        let edge = if full < nc {
                            T::pack_b(nc - full, kc, bsrc.offset(full as isize * b.cs), b.cs, b.rs, pb);
                            pb as *const T
                        } else {
                            std::ptr::null()
                        };
                        Block { ptr: bsrc, ls: 1, ps: b.rs, panel: T::NR as isize, edge }
                    } else {
                        T::pack_b(nc, kc, bsrc, b.cs, b.rs, pb);
                        let panel = (T::NR * kc) as isize;
                        Block { ptr: pb, ls: 1, ps: T::NR as isize, panel, edge: std::ptr::null() }
                    };
                    let mut ic = rows.start;
                    while ic < rows.end {
                        let mc = (rows.end - ic).min(mc_max);
                        let asrc = a.ptr.offset(ic as isize * a.rs + pc as isize * a.cs);
                        let ablock = if a_direct {
                            Block { ptr: asrc, ls: a.rs, ps: 1, panel: T::MR as isize * a.rs, edge: std::ptr::null() }
                        } else {
                            T::pack_a(mc, kc, asrc, a.rs, a.cs, pa);
                            let panel = (T::MR * kc) as isize;
                            Block { ptr: pa, ls: 1, ps: T::MR as isize, panel, edge: std::ptr::null() }
                        };
                        let cp = self.c.offset(ic as isize * self.rs_c + jc as isize * self.cs_c);
                        T::macro_kernel(mc, nc, kc, ablock, bblock, cp, self.rs_c, self.cs_c, self.acc || pc > 0);
                        ic += mc;
                    }
                }
                pc += kc;
            }
        }
        Scratch::put(buf);
    }
}

/// A cache line; packing buffers are vectors of these so they start 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Per-thread packing buffers, kept between calls (small products would otherwise pay
/// for fresh pages every time). A nested call on the same thread (rayon work stealing)
/// finds the slot empty and allocates its own.
struct Scratch;

thread_local! {
    static SCRATCH: Cell<Vec<Line>> = const { Cell::new(Vec::new()) };
}

impl Scratch {
    /// Buffers larger than this are freed after use rather than kept.
    const KEEP_BYTES: usize = 3 << 20;

    fn take(bytes: usize) -> Vec<Line> {
        let mut v = SCRATCH.try_with(|s| s.take()).unwrap_or_default();
        let lines = bytes.div_ceil(64);
        if v.len() < lines {
            v.resize(lines, Line([0; 64]));
        }
        v
    }

    fn put(v: Vec<Line>) {
        if v.len() * 64 <= Self::KEEP_BYTES {
            let _ = SCRATCH.try_with(|s| {
                let old = s.take();
                s.set(if old.len() > v.len() { old } else { v });
            });
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// A deterministic generator of small values, exactly representable in f32.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn val(&mut self) -> f64 {
            (self.below(17) as f64 - 8.0) / 4.0
        }
    }

    /// A strided view into a fresh buffer: element (i, j) at `off + i*rs + j*cs`.
    struct View<T> {
        buf: Vec<T>,
        off: isize,
        rs: isize,
        cs: isize,
    }

    /// Lays out an `r x c` matrix in one of several ways: row-major, column-major,
    /// padded rows, negative strides, or a padded transposed layout.
    fn layout<T: Kernel>(r: usize, c: usize, kind: usize, rng: &mut Lcg, vals: &[f64], from: fn(f64) -> T) -> View<T> {
        let (ri, ci) = (r as isize, c as isize);
        let pad = 3;
        let (rs, cs, off, len): (isize, isize, isize, isize) = match kind {
            0 => (ci, 1, 0, ri * ci),
            1 => (1, ri, 0, ri * ci),
            2 => (ci + pad, 1, 1, ri * (ci + pad) + 1),
            3 => (-(ci + pad), -1, (ri - 1).max(0) * (ci + pad) + (ci - 1).max(0), ri * (ci + pad)),
            _ => (2, 2 * ri + pad, 0, (ci.max(1)) * (2 * ri + pad)),
        };
        let mut buf: Vec<T> = (0..len.max(1)).map(|_| from(rng.val() * 100.0)).collect();
        for i in 0..r {
            for j in 0..c {
                buf[(off + i as isize * rs + j as isize * cs) as usize] = from(vals[i * c + j]);
            }
        }
        View { buf, off, rs, cs }
    }

    fn check<T: Kernel + Into<f64>>(m: usize, n: usize, k: usize, threads: usize, rng: &mut Lcg, from: fn(f64) -> T) {
        let av: Vec<f64> = (0..m * k).map(|_| rng.val()).collect();
        let bv: Vec<f64> = (0..k * n).map(|_| rng.val()).collect();
        let (ka, kb, kc) = (rng.below(5), rng.below(5), rng.below(5));
        let a = layout(m, k, ka, rng, &av, from);
        let b = layout(k, n, kb, rng, &bv, from);
        // Accumulating into C half the time; otherwise C starts as NaN, which must vanish.
        let acc = rng.below(2) == 0;
        let cinit: Vec<f64> = (0..m * n).map(|_| if acc { rng.val() } else { f64::NAN }).collect();
        let mut c = layout(m, n, kc, rng, &cinit, from);
        // SAFETY: the views address their buffers; c is separate.
        unsafe {
            let am = Mat { ptr: a.buf.as_ptr().offset(a.off), rs: a.rs, cs: a.cs };
            let bm = Mat { ptr: b.buf.as_ptr().offset(b.off), rs: b.rs, cs: b.cs };
            gemm(m, n, k, am, bm, c.buf.as_mut_ptr().offset(c.off), c.rs, c.cs, acc, threads);
        }
        for i in 0..m {
            for j in 0..n {
                let base = if acc { cinit[i * n + j] } else { 0.0 };
                let want: f64 = base + (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum::<f64>();
                let got: f64 = c.buf[(c.off + i as isize * c.rs + j as isize * c.cs) as usize].into();
                // Products and sums of quarters stay exact while |sum| < 2^22 (f32).
                assert_eq!(got, want, "m={m} n={n} k={k} acc={acc} layouts {ka}{kb}{kc} at ({i}, {j})");
            }
        }
    }

    fn sweep<T: Kernel + Into<f64>>(from: fn(f64) -> T) {
        if !available() {
            return;
        }
        let mut rng = Lcg(7);
        let edge = [0, 1, 2, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33];
        for &m in &edge {
            for &n in &edge {
                for &k in &[0, 1, 3, 16] {
                    check(m, n, k, 1 + (m + n + k) % 3, &mut rng, from);
                }
            }
        }
        for _ in 0..60 {
            let (m, n, k) = (1 + rng.below(300), 1 + rng.below(300), 1 + rng.below(600));
            check(m, n, k, 1 + rng.below(4), &mut rng, from);
        }
        // Several KC slices, MC blocks and NC blocks, with threads splitting either way.
        check(3, 4200, 300, 2, &mut rng, from);
        check(400, 40, 530, 3, &mut rng, from);
        check(150, 4100, 20, 4, &mut rng, from);
    }

    #[test]
    fn f32_matches_naive() {
        sweep::<f32>(|v| v as f32);
    }

    #[test]
    fn f64_matches_naive() {
        sweep::<f64>(|v| v);
    }

    /// Products from many threads at once, some of them pool threads whose products
    /// split again: helpers move between products through the lobby.
    #[test]
    fn concurrent_products() {
        if !available() {
            return;
        }
        std::thread::scope(|s| {
            for t in 0..3u64 {
                s.spawn(move || {
                    let mut rng = Lcg(100 + t);
                    for _ in 0..12 {
                        let (m, n, k) = (40 + rng.below(120), 40 + rng.below(120), 20 + rng.below(200));
                        check::<f32>(m, n, k, 2 + rng.below(3), &mut rng, |v| v as f32);
                    }
                });
            }
        });
        use rayon::prelude::*;
        (0..8u64).into_par_iter().for_each(|t| {
            let mut rng = Lcg(200 + t);
            check::<f64>(90, 70, 150, 2, &mut rng, |v| v);
        });
    }

    #[test]
    fn grid_splits_the_long_side() {
        let job = |a: (isize, isize), b: (isize, isize)| Job::<f32> {
            k: 0,
            a: Mat { ptr: std::ptr::null(), rs: a.0, cs: a.1 },
            b: Mat { ptr: std::ptr::null(), rs: b.0, cs: b.1 },
            c: std::ptr::null_mut(),
            rs_c: 0,
            cs_c: 1,
            acc: false,
        };
        let rm = job((1024, 1), (1024, 1));
        assert_eq!(grid::<f32>(4096, 64, 1024, 2, &rm), (2, 1));
        assert_eq!(grid::<f32>(12, 4096, 4096, 2, &rm), (1, 2));
        assert_eq!(grid::<f32>(4096, 16, 64, 4, &rm), (4, 1));
        assert_eq!(grid::<f32>(1, 1, 1, 2, &rm), (1, 1));
    }
}
