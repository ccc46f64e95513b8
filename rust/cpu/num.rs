//! Per-element arithmetic with numpy's semantics for every dtype: wrapping integers,
//! integer division/remainder by zero giving 0, Python's floor division and modulo signs,
//! IEEE floats (float16/bfloat16 computed in float32 and rounded once).

use half::{bf16, f16};

use crate::core::Element;

pub trait Num: Element + PartialOrd {
    fn add(a: Self, b: Self) -> Self;
    fn sub(a: Self, b: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    /// True division (floats only; integers are promoted before dividing).
    fn div(a: Self, b: Self) -> Self;
    fn floor_div(a: Self, b: Self) -> Self;
    fn rem(a: Self, b: Self) -> Self;
    fn pow(a: Self, b: Self) -> Self;
    /// numpy's maximum/minimum: NaN wins.
    fn max(a: Self, b: Self) -> Self;
    fn min(a: Self, b: Self) -> Self;
    fn neg(a: Self) -> Self;
    fn abs(a: Self) -> Self;
    fn sign(a: Self) -> Self;
    fn zero() -> Self {
        Self::default()
    }
    fn is_nan(self) -> bool {
        false
    }
}

macro_rules! int_num {
    ($t:ty, $signed:expr) => {
        impl Num for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                Self::floor_div(a, b)
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let q = a.wrapping_div(b);
                // Round toward -inf when the signs differ and the division is inexact.
                if $signed && (a.wrapping_rem(b) != 0) && ((a < (0 as $t)) != (b < (0 as $t))) {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let r = a.wrapping_rem(b);
                if $signed && r != 0 && ((r < (0 as $t)) != (b < (0 as $t))) {
                    r.wrapping_add(b)
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                #[allow(unused_comparisons)]
                if b < (0 as $t) {
                    // PyTorch's integer rule: only 1 and -1 survive negative exponents.
                    return match a as i128 {
                        1 => 1,
                        -1 => {
                            if (b as i128) % 2 == 0 {
                                1
                            } else {
                                a
                            }
                        }
                        _ => 0,
                    };
                }
                let (mut base, mut e, mut acc) = (a, b as u64, 1 as $t);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            #[inline(always)]
            fn max(a: Self, b: Self) -> Self {
                if a >= b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn min(a: Self, b: Self) -> Self {
                if a <= b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                (0 as $t).wrapping_sub(a)
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn abs(a: Self) -> Self {
                if a < (0 as $t) {
                    (0 as $t).wrapping_sub(a)
                } else {
                    a
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn sign(a: Self) -> Self {
                if a > (0 as $t) {
                    1
                } else if a < (0 as $t) {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
        }
    };
}
int_num!(i8, true);
int_num!(i16, true);
int_num!(i32, true);
int_num!(i64, true);
int_num!(u8, false);
int_num!(u16, false);
int_num!(u32, false);
int_num!(u64, false);

impl Num for bool {
    fn add(a: Self, b: Self) -> Self {
        a | b
    }
    fn sub(a: Self, b: Self) -> Self {
        a ^ b
    }
    fn mul(a: Self, b: Self) -> Self {
        a & b
    }
    fn div(a: Self, b: Self) -> Self {
        a & b
    }
    fn floor_div(a: Self, b: Self) -> Self {
        a & b
    }
    fn rem(_: Self, _: Self) -> Self {
        false
    }
    fn pow(a: Self, b: Self) -> Self {
        a | !b
    }
    fn max(a: Self, b: Self) -> Self {
        a | b
    }
    fn min(a: Self, b: Self) -> Self {
        a & b
    }
    fn neg(a: Self) -> Self {
        a
    }
    fn abs(a: Self) -> Self {
        a
    }
    fn sign(a: Self) -> Self {
        a
    }
}

/// Python's float floor division and modulo (CPython's `_float_div_mod`), which numpy
/// matches: the remainder takes the divisor's sign and the quotient is exact-rounded.
#[inline(always)]
pub fn py_divmod(a: f64, b: f64) -> (f64, f64) {
    if b == 0.0 {
        return (a / b, f64::NAN);
    }
    let mut m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(b);
    }
    let q = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0f64.copysign(a / b)
    };
    (q, m)
}

macro_rules! float_num {
    ($t:ty, $w:ty, $to:expr, $from:expr) => {
        impl Num for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                $from($to(a) + $to(b))
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                $from($to(a) - $to(b))
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                $from($to(a) * $to(b))
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                $from($to(a) / $to(b))
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                $from(py_divmod($to(a) as f64, $to(b) as f64).0 as $w)
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                $from(py_divmod($to(a) as f64, $to(b) as f64).1 as $w)
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                $from($to(a).powf($to(b)))
            }
            #[inline(always)]
            fn max(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                if x.is_nan() || x >= y {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn min(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                if x.is_nan() || x <= y {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                $from(-$to(a))
            }
            #[inline(always)]
            fn abs(a: Self) -> Self {
                $from($to(a).abs())
            }
            #[inline(always)]
            fn sign(a: Self) -> Self {
                let x = $to(a);
                $from(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                })
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $to(self).is_nan()
            }
        }
    };
}
float_num!(f32, f32, |x: f32| x, |x: f32| x);
float_num!(f64, f64, |x: f64| x, |x: f64| x);
float_num!(f16, f32, |x: f16| x.to_f32(), f16::from_f32);
float_num!(bf16, f32, |x: bf16| x.to_f32(), bf16::from_f32);

/// Integer-only operations (bitwise and shifts), with numpy's out-of-range shift results.
pub trait Bits: Num {
    fn and(a: Self, b: Self) -> Self;
    fn or(a: Self, b: Self) -> Self;
    fn xor(a: Self, b: Self) -> Self;
    fn not(a: Self) -> Self;
    fn shl(a: Self, b: Self) -> Self;
    fn shr(a: Self, b: Self) -> Self;
}

macro_rules! bits_int {
    ($t:ty, $bits:expr) => {
        impl Bits for $t {
            #[inline(always)]
            fn and(a: Self, b: Self) -> Self {
                a & b
            }
            #[inline(always)]
            fn or(a: Self, b: Self) -> Self {
                a | b
            }
            #[inline(always)]
            fn xor(a: Self, b: Self) -> Self {
                a ^ b
            }
            #[inline(always)]
            fn not(a: Self) -> Self {
                !a
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn shl(a: Self, b: Self) -> Self {
                if b < (0 as $t) || (b as u64) >= $bits {
                    0
                } else {
                    a << (b as u32)
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn shr(a: Self, b: Self) -> Self {
                if b < (0 as $t) || (b as u64) >= $bits {
                    if a < (0 as $t) {
                        (0 as $t).wrapping_sub(1)
                    } else {
                        0
                    }
                } else {
                    a >> (b as u32)
                }
            }
        }
    };
}
bits_int!(i8, 8);
bits_int!(i16, 16);
bits_int!(i32, 32);
bits_int!(i64, 64);
bits_int!(u8, 8);
bits_int!(u16, 16);
bits_int!(u32, 32);
bits_int!(u64, 64);

impl Bits for bool {
    fn and(a: Self, b: Self) -> Self {
        a & b
    }
    fn or(a: Self, b: Self) -> Self {
        a | b
    }
    fn xor(a: Self, b: Self) -> Self {
        a ^ b
    }
    fn not(a: Self) -> Self {
        !a
    }
    fn shl(a: Self, b: Self) -> Self {
        a & !b
    }
    fn shr(a: Self, b: Self) -> Self {
        a & !b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_division_follows_python() {
        assert_eq!(<i32 as Num>::floor_div(-7, 2), -4);
        assert_eq!(<i32 as Num>::rem(-7, 2), 1);
        assert_eq!(<i32 as Num>::rem(7, -2), -1);
        assert_eq!(<i64 as Num>::floor_div(5, 0), 0);
        assert_eq!(<u8 as Num>::rem(5, 0), 0);
        assert_eq!(<i64 as Num>::floor_div(i64::MIN, -1), i64::MIN);
    }

    #[test]
    fn float_division_follows_python() {
        assert_eq!(py_divmod(1.0, 0.1).0, 9.0);
        assert_eq!(py_divmod(-7.5, 2.0), (-4.0, 0.5));
        assert!(py_divmod(1.0, 0.0).0.is_infinite());
        assert!(py_divmod(0.0, 0.0).0.is_nan());
    }

    #[test]
    fn powers_and_shifts() {
        assert_eq!(<i64 as Num>::pow(3, 4), 81);
        assert_eq!(<i64 as Num>::pow(2, -1), 0);
        assert_eq!(<i64 as Num>::pow(-1, -3), -1);
        assert_eq!(<i32 as Bits>::shl(1, 40), 0);
        assert_eq!(<i32 as Bits>::shr(-8, 40), -1);
    }

    #[test]
    fn nan_propagates_through_max() {
        assert!(<f32 as Num>::max(f32::NAN, 1.0).is_nan());
        assert!(<f32 as Num>::max(1.0, f32::NAN).is_nan());
    }
}
