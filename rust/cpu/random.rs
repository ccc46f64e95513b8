//! Philox4x32-10, the counter-based generator of PyTorch's CUDA path and JAX: value `i`
//! of a draw depends only on (seed, offset + i), so fills split across threads give the
//! same numbers as a serial fill, on every platform.

use super::fill::generate;
use crate::core::Element;

const M0: u64 = 0xD251_1F53;
const M1: u64 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline(always)]
pub fn philox(counter: u64, key: u64) -> [u32; 4] {
    let mut c = [counter as u32, (counter >> 32) as u32, 0, 0];
    let mut k = [key as u32, (key >> 32) as u32];
    for _ in 0..10 {
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
        k[0] = k[0].wrapping_add(W0);
        k[1] = k[1].wrapping_add(W1);
    }
    c
}

/// A seeded stream: each draw consumes a range of counters and advances `offset` past it.
#[derive(Clone, Debug)]
pub struct Generator {
    pub seed: u64,
    pub offset: u64,
}

/// Uniform in [0, 1) with 53 random bits.
#[inline(always)]
fn unit_f64(hi: u32, lo: u32) -> f64 {
    (((hi as u64) << 21) ^ (lo as u64 >> 11)) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator { seed, offset: 0 }
    }

    fn take(&mut self, blocks: usize) -> u64 {
        let start = self.offset;
        self.offset = self.offset.wrapping_add(blocks as u64);
        start
    }

    /// `out[i] = low + (high - low) * U[0,1)`, computed in f64 then cast.
    ///
    /// # Safety
    /// `out` must be valid for `n` writes.
    pub unsafe fn uniform<T: Element>(&mut self, out: *mut T, n: usize, low: f64, high: f64) {
        let (start, key) = (self.take(n.div_ceil(2)), self.seed);
        generate(out, n, |i| {
            let w = philox(start + (i / 2) as u64, key);
            let u = if i % 2 == 0 { unit_f64(w[0], w[1]) } else { unit_f64(w[2], w[3]) };
            T::from_f64(low + (high - low) * u)
        });
    }

    /// Normal(mean, std) by Box-Muller: one Philox block gives a pair of deviates.
    ///
    /// # Safety
    /// `out` must be valid for `n` writes.
    pub unsafe fn normal<T: Element>(&mut self, out: *mut T, n: usize, mean: f64, std: f64) {
        let (start, key) = (self.take(n.div_ceil(2)), self.seed);
        generate(out, n, |i| {
            let w = philox(start + (i / 2) as u64, key);
            let u1 = 1.0 - unit_f64(w[0], w[1]); // (0, 1]: log stays finite
            let u2 = unit_f64(w[2], w[3]);
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            let z = if i % 2 == 0 { r * theta.cos() } else { r * theta.sin() };
            T::from_f64(mean + std * z)
        });
    }

    /// Integers uniform in [low, high) (`high > low`), by 64x64->128 multiply-shift.
    ///
    /// # Safety
    /// `out` must be valid for `n` writes.
    pub unsafe fn integers<T: Element>(&mut self, out: *mut T, n: usize, low: i64, high: i64) {
        let (start, key) = (self.take(n.div_ceil(2)), self.seed);
        let range = high.wrapping_sub(low) as u64;
        generate(out, n, |i| {
            let w = philox(start + (i / 2) as u64, key);
            let x = if i % 2 == 0 { (w[0] as u64) << 32 | w[1] as u64 } else { (w[2] as u64) << 32 | w[3] as u64 };
            let v = low.wrapping_add(((x as u128 * range as u128) >> 64) as i64);
            T::from_scalar(crate::core::Scalar::Int(v))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answer() {
        // Random123's published vector: counter 0, key 0.
        let c = [0u32; 4];
        let _ = c;
        assert_eq!(philox(0, 0), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    }

    #[test]
    fn reproducible_and_moments() {
        let n = 200_000;
        let mut a = vec![0f64; n];
        let mut b = vec![0f64; n];
        unsafe {
            Generator::new(7).normal(a.as_mut_ptr(), n, 0.0, 1.0);
            Generator::new(7).normal(b.as_mut_ptr(), n, 0.0, 1.0);
        }
        assert_eq!(a, b);
        let mean = a.iter().sum::<f64>() / n as f64;
        let var = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "{mean} {var}");
    }

    #[test]
    fn integers_in_range() {
        let mut v = vec![0i64; 10_000];
        unsafe { Generator::new(1).integers(v.as_mut_ptr(), v.len(), -3, 4) };
        assert!(v.iter().all(|&x| (-3..4).contains(&x)));
        for k in -3..4 {
            assert!(v.contains(&k));
        }
    }
}
