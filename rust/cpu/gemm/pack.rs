//! Packing: copies a block of A (or B) into the order the micro-kernel reads it, so the
//! kernel streams unit-stride memory whatever the operand's strides were (transposed,
//! negative or broadcast views cost only this copy).
//!
//! A block of `len` lanes by `kc` steps is cut into panels of `w` lanes; panel q holds
//! lanes `q*w..q*w+w`, step-major: `dst[q*w*kc + p*w + l] = src[(q*w + l)*ls + p*ps]`.
//! For A the lanes are rows (w = MR), for B columns (w = NR). The last panel is padded
//! with zeros, whose products land in tile positions that are never written back.

/// Packs `len x kc` (lanes by steps) with lane stride `ls` and step stride `ps`.
///
/// # Safety
/// `src` must address every `(lane, step)` in range; `dst` must hold
/// `len.div_ceil(w) * w * kc` elements.
#[inline(always)]
pub(super) unsafe fn pack<T: Copy + Default>(
    w: usize,
    len: usize,
    kc: usize,
    src: *const T,
    ls: isize,
    ps: isize,
    dst: *mut T,
) {
    let full = len / w;
    if ls == 1 {
        // Contiguous lanes (row-major B, column-major A): copy runs of `w`, a group of
        // panels per step so that each step reads one longer run. Panel by panel, every
        // step would touch another page (and TLB entry) for a single line.
        for g0 in (0..full).step_by(GROUP) {
            let gp = (full - g0).min(GROUP);
            for p in 0..kc {
                let sp = src.offset(p as isize * ps + (g0 * w) as isize);
                for q in 0..gp {
                    std::ptr::copy_nonoverlapping(sp.add(q * w), dst.add((g0 + q) * w * kc + p * w), w);
                }
            }
        }
    } else {
        for q in 0..full {
            let (s, d) = (src.offset((q * w) as isize * ls), dst.add(q * w * kc));
            // A literal unit stride so that LLVM sees the contiguous reads.
            if ps == 1 {
                panel(w, kc, s, ls, 1, d);
            } else {
                panel(w, kc, s, ls, ps, d);
            }
        }
    }
    let lanes = len - full * w;
    if lanes > 0 {
        let (s, d) = (src.offset((full * w) as isize * ls), dst.add(full * w * kc));
        for p in 0..kc {
            let sp = s.offset(p as isize * ps);
            for l in 0..w {
                *d.add(p * w + l) = if l < lanes { *sp.offset(l as isize * ls) } else { T::default() };
            }
        }
    }
}

/// Panels copied together when lanes are contiguous (4 panels of float32 B: 256 bytes of
/// a row per step). More would put too many write streams into one L1 set, as panels
/// are `w * kc` elements (16 KiB) apart.
const GROUP: usize = 4;

#[inline(always)]
unsafe fn panel<T: Copy>(w: usize, kc: usize, s: *const T, ls: isize, ps: isize, d: *mut T) {
    for p in 0..kc {
        let sp = s.offset(p as isize * ps);
        let dp = d.add(p * w);
        for l in 0..w {
            *dp.add(l) = *sp.offset(l as isize * ls);
        }
    }
}
