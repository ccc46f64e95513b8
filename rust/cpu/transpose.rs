//! SIMD micro-kernel for transposing copies of 32-bit elements: 8x8 blocks are moved
//! through AVX registers, so both the source and the destination are read and written
//! 32 bytes at a time (the scalar tile loop touches the source one element per line).

/// Whether [`transpose32`] can run on this CPU (run-time detection, cached by std).
#[inline]
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Copies a `rows x cols` block where the source is contiguous along rows and the
/// destination along columns: `dst[r*dr + c] = src[r + c*sc]`.
///
/// # Safety
/// [`available`] must be true and every addressed element in bounds.
#[inline]
pub unsafe fn transpose32(rows: usize, cols: usize, src: *const u32, sc: isize, dst: *mut u32, dr: isize) {
    #[cfg(target_arch = "x86_64")]
    avx::blocks(rows, cols, src, sc, dst, dr);
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("transpose32 without SIMD support {:?}", (rows, cols, src, sc, dst, dr));
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx")]
    pub unsafe fn blocks(rows: usize, cols: usize, src: *const u32, sc: isize, dst: *mut u32, dr: isize) {
        let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
        for r in (0..r8).step_by(8) {
            for c in (0..c8).step_by(8) {
                let s = src.offset(r as isize + c as isize * sc) as *const f32;
                let d = dst.offset(r as isize * dr + c as isize) as *mut f32;
                block8(s, sc, d, dr);
            }
        }
        // Ragged edges, element by element.
        for r in 0..rows {
            let c_start = if r < r8 { c8 } else { 0 };
            for c in c_start..cols {
                *dst.offset(r as isize * dr + c as isize) = *src.offset(r as isize + c as isize * sc);
            }
        }
    }

    /// Transposes one 8x8 block: source rows `s + k*ss`, destination rows `d + k*ds`.
    #[target_feature(enable = "avx")]
    unsafe fn block8(s: *const f32, ss: isize, d: *mut f32, ds: isize) {
        let r = |k: isize| _mm256_loadu_ps(s.offset(k * ss));
        let (r0, r1, r2, r3, r4, r5, r6, r7) = (r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7));
        let t0 = _mm256_unpacklo_ps(r0, r1);
        let t1 = _mm256_unpackhi_ps(r0, r1);
        let t2 = _mm256_unpacklo_ps(r2, r3);
        let t3 = _mm256_unpackhi_ps(r2, r3);
        let t4 = _mm256_unpacklo_ps(r4, r5);
        let t5 = _mm256_unpackhi_ps(r4, r5);
        let t6 = _mm256_unpacklo_ps(r6, r7);
        let t7 = _mm256_unpackhi_ps(r6, r7);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let w = |k: isize, v: __m256| _mm256_storeu_ps(d.offset(k * ds), v);
        w(0, _mm256_permute2f128_ps::<0x20>(u0, u4));
        w(1, _mm256_permute2f128_ps::<0x20>(u1, u5));
        w(2, _mm256_permute2f128_ps::<0x20>(u2, u6));
        w(3, _mm256_permute2f128_ps::<0x20>(u3, u7));
        w(4, _mm256_permute2f128_ps::<0x31>(u0, u4));
        w(5, _mm256_permute2f128_ps::<0x31>(u1, u5));
        w(6, _mm256_permute2f128_ps::<0x31>(u2, u6));
        w(7, _mm256_permute2f128_ps::<0x31>(u3, u7));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scalar_on_ragged_sizes() {
        for (rows, cols) in [(8, 8), (19, 13), (3, 40), (64, 9)] {
            let sc = rows as isize + 3; // padded source rows
            let src: Vec<u32> = (0..(cols * sc as usize)).map(|i| i as u32).collect();
            let dr = cols as isize + 1;
            let mut dst = vec![u32::MAX; rows * dr as usize];
            if !available() {
                return; // no AVX on this CPU: the scalar tiles are tested in cpu::copy
            }
            unsafe { transpose32(rows, cols, src.as_ptr(), sc, dst.as_mut_ptr(), dr) };
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(dst[r * dr as usize + c], src[r + c * sc as usize], "{rows}x{cols} at {r},{c}");
                }
            }
        }
    }
}
