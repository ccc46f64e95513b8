//! GELU in both forms. Narrower floats compute through float64 and round once, which keeps
//! full relative accuracy even for large negative x, where the result is tiny and very
//! sensitive to rounding of the erfc/sigmoid argument. ±inf give their limits, x and -0.0.

extern "C" {
    /// The platform C library's erfc (glibc, Apple libm, the MSVC CRT): accurate to an ulp
    /// over the whole range, where the pure-Rust `libm` port loses ~1e-13 relative
    /// accuracy in the far tail.
    #[link_name = "erfc"]
    fn c_erfc(x: f64) -> f64;
}

/// 1/sqrt(2) as a double-double (hi + lo).
const FRAC_1_SQRT_2: (f64, f64) = (std::f64::consts::FRAC_1_SQRT_2, -4.833646656726457e-17);

/// x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)). The argument z = x/sqrt(2) is carried as
/// hi + lo (exact product by FMA), and erfc gets the first-order correction
/// erfc(-(hi + lo)) = erfc(-hi) + 2/sqrt(pi) exp(-hi^2) lo: for large negative x the
/// rounding of z alone would otherwise cost ~x^2 ulps.
pub fn gelu(x: f64) -> f64 {
    if x.is_infinite() {
        return if x > 0.0 { x } else { -0.0 };
    }
    let hi = x * FRAC_1_SQRT_2.0;
    let lo = x.mul_add(FRAC_1_SQRT_2.0, -hi) + x * FRAC_1_SQRT_2.1;
    // SAFETY: a pure C math function.
    let e = unsafe { c_erfc(-hi) };
    let corr = std::f64::consts::FRAC_2_SQRT_PI * (-hi * hi).exp() * lo;
    0.5 * x * (e + if corr.is_finite() { corr } else { 0.0 })
}

/// PyTorch's tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated
/// as x * sigmoid(2u) so that 1 + tanh(u) does not cancel for u << 0.
pub fn gelu_tanh(x: f64) -> f64 {
    if x.is_infinite() {
        return if x > 0.0 { x } else { -0.0 };
    }
    let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powf(3.0));
    let s = if u >= 0.0 {
        1.0 / (1.0 + (-2.0 * u).exp())
    } else {
        let e = (2.0 * u).exp();
        e / (1.0 + e)
    };
    x * s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_limits() {
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.8413447460685429).abs() < 1e-15);
        assert!((gelu(-10.0) / -7.619853024160527e-23 - 1.0).abs() < 1e-12);
        assert_eq!(gelu_tanh(f64::NEG_INFINITY), 0.0);
        assert!((gelu_tanh(1.0) - 0.8411919906082768).abs() < 1e-15);
        assert_eq!(gelu(f64::INFINITY), f64::INFINITY);
        assert!(gelu(f64::NAN).is_nan() && gelu_tanh(f64::NAN).is_nan());
    }
}
