//! Float functions per float dtype: float32 uses the vectorisable approximations in
//! `vmath`, float64 uses libm, float16/bfloat16 compute in float32 and round once.

use half::{bf16, f16};

use super::vmath;
use crate::core::Element;

pub trait FloatMath: Element + PartialOrd {
    fn f(x: f32) -> Self;
    fn unary(op: crate::ops::table::UnaryOp, x: Self) -> Self;
    fn binary(op: crate::ops::table::BinaryOp, a: Self, b: Self) -> Self;
    fn is_nan_(self) -> bool;
    fn is_inf_(self) -> bool;
    fn signbit_(self) -> bool;
}

/// `is_nan_`, `is_inf_`, `signbit_`: every float type (std f32/f64 and half's types) has
/// the same inherent methods, so one body serves all of them.
macro_rules! float_predicates {
    () => {
        #[inline(always)]
        fn is_nan_(self) -> bool {
            self.is_nan()
        }
        #[inline(always)]
        fn is_inf_(self) -> bool {
            self.is_infinite()
        }
        #[inline(always)]
        fn signbit_(self) -> bool {
            self.is_sign_negative()
        }
    };
}

macro_rules! unary_impl {
    ($op:expr, $x:expr, $t:ty, $exp:expr, $ln:expr, $tanh:expr, $sig:expr, $sin:expr, $cos:expr, $expm1:expr, $erf:expr, $atanh:expr, $asinh:expr, $acosh:expr) => {{
        use crate::ops::table::UnaryOp::*;
        let x: $t = $x;
        match $op {
            Neg => -x,
            Pos => x,
            Abs => x.abs(),
            Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                }
            }
            Square => x * x,
            Sqrt => x.sqrt(),
            Rsqrt => 1.0 / x.sqrt(),
            Reciprocal => 1.0 / x,
            Exp => $exp(x),
            Exp2 => x.exp2(),
            Expm1 => $expm1(x),
            Log => $ln(x),
            Log1p => x.ln_1p(),
            Log2 => x.log2(),
            Log10 => x.log10(),
            Sin => $sin(x),
            Cos => $cos(x),
            Tan => x.tan(),
            Asin => x.asin(),
            Acos => x.acos(),
            Atan => x.atan(),
            Sinh => x.sinh(),
            Cosh => x.cosh(),
            Tanh => $tanh(x),
            // libm, not std: std's asinh/acosh overflow near the top of the range.
            Asinh => $asinh(x),
            Acosh => $acosh(x),
            Atanh => $atanh(x),
            Erf => $erf(x),
            Floor => x.floor(),
            Ceil => x.ceil(),
            Trunc => x.trunc(),
            // numpy rounds half to even.
            Round => x.round_ties_even(),
            Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            Sigmoid => $sig(x),
            // Exact for every x (no overflow, no threshold needed).
            Softplus => x.max(0.0) + $exp(-x.abs()).ln_1p(),
            // Double-double argument handling (cpu/gelu.rs) keeps full relative accuracy
            // for large negative x; narrower floats round the float64 result once.
            Gelu => super::gelu::gelu(x as f64) as $t,
            GeluTanh => super::gelu::gelu_tanh(x as f64) as $t,
            Silu => {
                if x == <$t>::NEG_INFINITY {
                    -0.0
                } else {
                    x * $sig(x)
                }
            }
            LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    x * s as $t
                }
            }
            Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a as $t * $expm1(x)
                }
            }
            IsNan | IsInf | IsFinite | Signbit | LogicalNot | BitNot => x,
        }
    }};
}

macro_rules! binary_impl {
    ($op:expr, $a:expr, $b:expr, $t:ty, $ln:expr, $exp:expr, $next:expr) => {{
        use crate::ops::table::BinaryOp::*;
        let (a, b): ($t, $t) = ($a, $b);
        match $op {
            Div => a / b,
            Atan2 => a.atan2(b),
            Hypot => a.hypot(b),
            Copysign => a.copysign(b),
            Nextafter => $next(a, b),
            Logaddexp => {
                let m = a.max(b);
                if a.is_nan() || b.is_nan() {
                    <$t>::NAN
                } else if m == <$t>::INFINITY || m == <$t>::NEG_INFINITY {
                    m
                } else {
                    m + $exp(-(a - b).abs()).ln_1p()
                }
            }
            _ => <$t>::NAN,
        }
    }};
}

fn sin32(x: f32) -> f32 {
    if x.abs() <= vmath::TRIG_MAX {
        vmath::sin(x)
    } else {
        libm::sinf(x)
    }
}

fn cos32(x: f32) -> f32 {
    if x.abs() <= vmath::TRIG_MAX {
        vmath::cos(x)
    } else {
        libm::cosf(x)
    }
}

fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl FloatMath for f32 {
    #[inline(always)]
    fn f(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn unary(op: crate::ops::table::UnaryOp, x: f32) -> f32 {
        unary_impl!(
            op,
            x,
            f32,
            vmath::exp,
            vmath::log,
            vmath::tanh,
            vmath::sigmoid,
            sin32,
            cos32,
            vmath::expm1,
            libm::erff,
            // float32's std atanh loses bits near ±1; float64 is exact enough to round once.
            |v: f32| (v as f64).atanh() as f32,
            libm::asinhf,
            |v: f32| if v >= 1.0 { libm::acoshf(v) } else { f32::NAN }
        )
    }
    #[inline(always)]
    fn binary(op: crate::ops::table::BinaryOp, a: f32, b: f32) -> f32 {
        binary_impl!(op, a, b, f32, vmath::log, vmath::exp, libm::nextafterf)
    }
    float_predicates!();
}

impl FloatMath for f64 {
    #[inline(always)]
    fn f(x: f32) -> Self {
        x as f64
    }
    #[inline(always)]
    fn unary(op: crate::ops::table::UnaryOp, x: f64) -> f64 {
        unary_impl!(
            op,
            x,
            f64,
            f64::exp,
            f64::ln,
            f64::tanh,
            sigmoid64,
            f64::sin,
            f64::cos,
            f64::exp_m1,
            libm::erf,
            f64::atanh,
            libm::asinh,
            // libm's acosh returns garbage below 1 instead of NaN.
            |v: f64| if v >= 1.0 { libm::acosh(v) } else { f64::NAN }
        )
    }
    #[inline(always)]
    fn binary(op: crate::ops::table::BinaryOp, a: f64, b: f64) -> f64 {
        binary_impl!(op, a, b, f64, f64::ln, f64::exp, libm::nextafter)
    }
    float_predicates!();
}

macro_rules! half_math {
    ($t:ty) => {
        impl FloatMath for $t {
            #[inline(always)]
            fn f(x: f32) -> Self {
                <$t>::from_f32(x)
            }
            #[inline(always)]
            fn unary(op: crate::ops::table::UnaryOp, x: Self) -> Self {
                <$t>::from_f32(f32::unary(op, x.to_f32()))
            }
            #[inline(always)]
            fn binary(op: crate::ops::table::BinaryOp, a: Self, b: Self) -> Self {
                if op == crate::ops::table::BinaryOp::Nextafter {
                    return next_half(a, b);
                }
                <$t>::from_f32(f32::binary(op, a.to_f32(), b.to_f32()))
            }
            float_predicates!();
        }
    };
}
half_math!(f16);
half_math!(bf16);

/// nextafter for 16-bit floats, on their bit patterns.
fn next_half<T: HalfBits>(a: T, b: T) -> T {
    let (x, y) = (a.to_f32(), b.to_f32());
    if x.is_nan() || y.is_nan() {
        return T::from_f32(f32::NAN);
    }
    if x == y {
        // numpy's float16 nextafter returns the first argument here (C's returns the second).
        return a;
    }
    if x == 0.0 {
        let tiny = T::from_bits(1);
        return if y > 0.0 { tiny } else { T::from_bits(0x8001) };
    }
    let bits = a.to_bits();
    let up = (y > x) == (x > 0.0);
    T::from_bits(if up { bits + 1 } else { bits - 1 })
}

trait HalfBits: Copy {
    fn to_f32(self) -> f32;
    fn from_f32(x: f32) -> Self;
    fn to_bits(self) -> u16;
    fn from_bits(b: u16) -> Self;
}

macro_rules! half_bits {
    ($t:ty) => {
        impl HalfBits for $t {
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            fn from_f32(x: f32) -> Self {
                <$t>::from_f32(x)
            }
            fn to_bits(self) -> u16 {
                <$t>::to_bits(self)
            }
            fn from_bits(b: u16) -> Self {
                <$t>::from_bits(b)
            }
        }
    };
}
half_bits!(f16);
half_bits!(bf16);
