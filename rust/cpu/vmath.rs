//! Branch-free float32 approximations (Cephes coefficients, FMA-friendly) that LLVM turns
//! into SIMD code inside the `simd::dispatch` trampoline. Each handles inf, NaN, -0.0 and
//! denormals with selects rather than branches; tests bound the error in ulps against
//! the float64 libm result.

// Coefficients are quoted exactly as published (Cephes), even past float32 precision.
#![allow(clippy::excessive_precision)]

const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// Fused multiply-add: one instruction inside the AVX2/AVX-512 trampolines and on
/// aarch64; a (slow but exact) libm call on a baseline x86-64 without FMA.
#[inline(always)]
fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

/// 2^n for integer-valued `n` in [-252, 254], as two in-range scalings (denormal results
/// stay exact).
#[inline(always)]
fn pow2i(n: f32) -> (f32, f32) {
    // SAFETY: callers pass integral n within [-252, 254]; the unchecked conversion is a
    // single SIMD instruction where `as` (saturating) is not.
    let n: i32 = unsafe { n.to_int_unchecked() };
    let h = n >> 1;
    (f32::from_bits(((h + 127) as u32) << 23), f32::from_bits(((n - h + 127) as u32) << 23))
}

#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(-104.0, 89.0);
    // Nearest-even rounding is one SIMD instruction; round-half-away is a libm call.
    let n = (xc * std::f32::consts::LOG2_E).round_ties_even();
    let r = mul_add(n, -LN2_LO, mul_add(n, -LN2_HI, xc));
    let mut p = 1.987_569_1e-4;
    p = mul_add(p, r, 1.398_199_9e-3);
    p = mul_add(p, r, 8.333_452e-3);
    p = mul_add(p, r, 4.166_579_6e-2);
    p = mul_add(p, r, 1.666_666_5e-1);
    p = mul_add(p, r, 5.000_000_1e-1);
    let y = mul_add(p * r, r, r) + 1.0;
    let (s1, s2) = pow2i(n);
    let v = y * s1 * s2;
    if x.is_nan() {
        x
    } else if x > 88.722_84 {
        f32::INFINITY
    } else {
        v
    }
}

/// exp(x) - 1, accurate near 0.
#[inline(always)]
pub fn expm1(x: f32) -> f32 {
    let e = exp(x);
    // Kahan's trick: (e - 1) * x / log(e) keeps full precision for small |x|.
    let small = (e - 1.0) * x / log(e);
    // Below ~6e-8, exp(x) rounds to exactly 1 and the trick would give 0/0: expm1(x) = x.
    if e == 1.0 {
        x
    } else if x.abs() < 0.5 {
        small
    } else {
        e - 1.0
    }
}

#[inline(always)]
pub fn log(x: f32) -> f32 {
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8_388_608.0 } else { x };
    let bits = xs.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126 - if tiny { 23 } else { 0 };
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let low = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= low as i32;
    m = if low { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut p = 7.037_683_6e-2;
    p = mul_add(p, m, -1.151_461e-1);
    p = mul_add(p, m, 1.167_699_9e-1);
    p = mul_add(p, m, -1.242_014_1e-1);
    p = mul_add(p, m, 1.424_932_3e-1);
    p = mul_add(p, m, -1.666_805_8e-1);
    p = mul_add(p, m, 2.000_071_4e-1);
    p = mul_add(p, m, -2.499_999_4e-1);
    p = mul_add(p, m, 3.333_333e-1);
    let ef = e as f32;
    let mut y = p * m * z;
    y = mul_add(ef, LN2_LO, y);
    y = mul_add(-0.5, z, y);
    let r = mul_add(ef, LN2_HI, m + y);
    if x.is_nan() || x == f32::INFINITY {
        x
    } else if x < 0.0 {
        f32::NAN
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else {
        r
    }
}

#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = mul_add(p, z, 2.063_908_9e-2);
    p = mul_add(p, z, -5.373_971_6e-2);
    p = mul_add(p, z, 1.333_144_2e-1);
    p = mul_add(p, z, -3.333_328_2e-1);
    // tanh is odd: the sign of x fixes the sign of zero results too.
    let small = mul_add(p * z, x, x).copysign(x);
    let big = (1.0 - 2.0 / (exp(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        big
    }
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    // exp of a non-positive argument never overflows; mirror for positive x.
    let e = exp(-x.abs());
    let pos = 1.0 / (1.0 + e);
    if x >= 0.0 {
        pos
    } else {
        e * pos
    }
}

/// Cody-Waite reduction by pi/4 for |x| up to TRIG_MAX (callers fall back to libm beyond).
#[inline(always)]
fn reduce(x: f32) -> (f32, i32) {
    let a = x.abs();
    // Octant; callers keep |x| <= TRIG_MAX (or discard the result for inf/nan), and the
    // min() keeps the conversion in range for those too.
    // SAFETY: the argument is finite and below 2^31 after min()/max(), which (unlike
    // clamp) also map NaN into range.
    #[allow(clippy::manual_clamp)]
    let j: i32 = unsafe { (a * std::f32::consts::FRAC_2_PI * 2.0).min(1.0e9).max(0.0).to_int_unchecked() };
    let j = j.wrapping_add(1) & !1; // even octant -> symmetric range [-pi/4, pi/4]
    let y = j as f32;
    let r = mul_add(y, -3.774_895e-8, mul_add(y, -2.418_756_5e-4, mul_add(y, -0.785_156_25, a)));
    (r, j)
}

#[inline(always)]
fn sin_poly(r: f32) -> f32 {
    let z = r * r;
    let mut p = -1.951_529_6e-4;
    p = mul_add(p, z, 8.332_161e-3);
    p = mul_add(p, z, -1.666_665_5e-1);
    mul_add(p * z, r, r)
}

#[inline(always)]
fn cos_poly(r: f32) -> f32 {
    let z = r * r;
    let mut p = 2.443_315_7e-5;
    p = mul_add(p, z, -1.388_731_6e-3);
    p = mul_add(p, z, 4.166_664_6e-2);
    mul_add(p * z, z, mul_add(-0.5, z, 1.0))
}

/// Largest |x| the polynomial sin/cos handle to a few ulps.
pub const TRIG_MAX: f32 = 1024.0;

#[inline(always)]
pub fn sin(x: f32) -> f32 {
    let (r, j) = reduce(x);
    let q = (j >> 1) & 3; // quadrant of |x|: sin, cos, -sin, -cos
    let v = if q & 1 == 0 { sin_poly(r) } else { cos_poly(r) };
    let v = if q & 2 == 0 { v } else { -v };
    let v = if x < 0.0 { -v } else { v };
    if !x.is_finite() {
        f32::NAN
    } else if x == 0.0 {
        x
    } else {
        v
    }
}

#[inline(always)]
pub fn cos(x: f32) -> f32 {
    let (r, j) = reduce(x);
    let q = (j >> 1) & 3; // quadrant of |x|: cos, -sin, -cos, sin
    let v = if q & 1 == 0 { cos_poly(r) } else { sin_poly(r) };
    let v = if q == 1 || q == 2 { -v } else { v };
    if x.is_finite() {
        v
    } else {
        f32::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f64) -> f64 {
        if a.is_nan() && b.is_nan() {
            return 0.0;
        }
        if a as f64 == b {
            return 0.0;
        }
        // One unit in the last place of the float32 nearest to b (fixed for denormals).
        let ulp = ((b as f32).abs() as f64 * f32::EPSILON as f64).max(f64::from(f32::from_bits(1)));
        ((a as f64 - b) / ulp).abs()
    }

    fn sweep(f: fn(f32) -> f32, g: fn(f64) -> f64, lo: f32, hi: f32, max_ulps: f64) {
        let n = 200_001;
        let mut worst = (0.0, 0.0f32);
        for i in 0..n {
            let x = lo + (hi - lo) * i as f32 / (n - 1) as f32;
            let u = ulps(f(x), g(x as f64));
            if u > worst.0 {
                worst = (u, x);
            }
        }
        assert!(worst.0 <= max_ulps, "{} ulps at x = {}", worst.0, worst.1);
    }

    #[test]
    fn exp_accuracy_and_specials() {
        sweep(exp, f64::exp, -87.0, 88.0, 2.0);
        sweep(exp, f64::exp, -103.0, -87.0, 2.0); // denormal results
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(-0.0), 1.0);
    }

    #[test]
    fn log_accuracy_and_specials() {
        sweep(log, f64::ln, 1e-30, 10.0, 2.0);
        sweep(log, f64::ln, 10.0, 3e38, 2.0);
        sweep(log, f64::ln, 1e-44, 1e-38, 2.0); // denormal inputs
        assert_eq!(log(0.0), f32::NEG_INFINITY);
        assert_eq!(log(-0.0), f32::NEG_INFINITY);
        assert!(log(-1.0).is_nan());
        assert_eq!(log(f32::INFINITY), f32::INFINITY);
        assert_eq!(log(1.0), 0.0);
    }

    #[test]
    fn tanh_sigmoid_expm1() {
        sweep(tanh, f64::tanh, -20.0, 20.0, 3.0);
        sweep(sigmoid, |x| 1.0 / (1.0 + (-x).exp()), -80.0, 80.0, 3.0);
        sweep(expm1, f64::exp_m1, -5.0, 5.0, 3.0);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid(f32::NAN).is_nan());
        assert_eq!(expm1(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn trig_accuracy() {
        sweep(sin, f64::sin, -TRIG_MAX, TRIG_MAX, 3.0);
        sweep(cos, f64::cos, -TRIG_MAX, TRIG_MAX, 3.0);
        sweep(sin, f64::sin, -1.0, 1.0, 2.0);
        assert!(sin(f32::INFINITY).is_nan());
        assert_eq!(sin(-0.0).to_bits(), (-0.0f32).to_bits());
    }
}
