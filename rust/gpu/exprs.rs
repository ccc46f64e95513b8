//! The op table's GPU column: each op as a WGSL expression, substituted into the family
//! shader as `{{EXPR}}` (`x`, and `y` for binary ops, are the operands). None means the
//! op has no GPU kernel yet for that dtype; callers turn that into a RuntimeError that
//! names the op. Bool values are u32 0/1 in memory, so bool arms use integer forms.

use super::ReduceKind;
use crate::core::DType;
use crate::ops::table::{BinaryOp, UnaryOp};

/// `select(0u, 1u, cond)`: a bool result stored as u32.
fn as_bool(cond: &str) -> String {
    format!("select(0u, 1u, {cond})")
}

pub fn unary_expr(op: UnaryOp, t: DType) -> Option<String> {
    use UnaryOp::*;
    let s = |e: &str| Some(e.to_string());
    match t {
        // float16 kernels compute in f32 (`dtypes::compute_type`).
        DType::F32 | DType::F16 => match op {
            // Sign-bit flips, not arithmetic: drivers may flush subnormals in `-x`.
            Neg => s("bitcast<f32>(bitcast<u32>(x) ^ 0x80000000u)"),
            Pos => s("x"),
            Abs => s("bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu)"),
            Sign => s("sign_f32(x)"),
            Square => s("x * x"),
            Sqrt => s("sqrt_f32(x)"),
            Rsqrt => s("inverseSqrt(x)"),
            Reciprocal => s("div_f32(1.0, x)"),
            Exp => s("exp(x)"),
            Exp2 => s("exp2(x)"),
            Expm1 => s("expm1_f32(x)"),
            Log => s("log_f32(x)"),
            Log1p => s("log1p_f32(x)"),
            Log2 => s("log2_f32(x)"),
            Log10 => s("log10_f32(x)"),
            // Own argument reduction and polynomials (shaders/trig.wgsl): drivers' builtins
            // lose accuracy fast with |x| (NVIDIA's: 1e-3 absolute at 1e4).
            Sin => s("sin_f32(x)"),
            Cos => s("cos_f32(x)"),
            Tan => s("tan_f32(x)"),
            // Through atan2 with a cancellation-free sqrt(1 - x^2): Vulkan lets drivers
            // derive asin/acos from atan2(x, sqrt(1.0 - x*x)), which loses digits near
            // |x| = 1 (lavapipe's are off by 1e-4).
            Asin => s("asin_f32(x)"),
            Acos => s("acos_f32(x)"),
            Atan => s("atan(x)"),
            Sinh => s("sinh_f32(x)"),
            Cosh => s("cosh_f32(x)"),
            // Clamped: some drivers compute tanh through exp and overflow to NaN for
            // large |x|; tanh(15) already rounds to 1.0 in f32.
            Tanh => s("tanh_f32(x)"),
            Asinh => s("asinh_f32(x)"),
            Acosh => s("acosh_f32(x)"),
            Atanh => s("atanh_f32(x)"),
            Erf => s("erf_f32(x)"),
            Floor => s("floor(x)"),
            Ceil => s("ceil(x)"),
            Trunc => s("trunc(x)"),
            Round => s("round(x)"), // half to even, as numpy
            IsNan => Some(as_bool("f32_is_nan(x)")),
            IsInf => Some(as_bool("f32_is_inf(x)")),
            IsFinite => Some(as_bool("!f32_is_nan(x) && !f32_is_inf(x)")),
            Signbit => Some(as_bool("(bitcast<u32>(x) >> 31u) == 1u")),
            LogicalNot => Some(as_bool("f32_is_zero(x)")),
            Relu => s("relu_f32(x)"),
            Sigmoid => s("sigmoid_f32(x)"),
            Softplus => s("softplus_f32(x)"),
            Gelu => s("gelu_f32(x)"),
            GeluTanh => s("gelu_tanh_f32(x)"),
            Silu => s("silu_f32(x)"),
            // NaN passes through (a zero slope or alpha must not turn it into 0).
            LeakyRelu(slope) => {
                Some(format!("select(mul_ieee(x, {}), x, f32_positive(x) || f32_is_nan(x))", f32_literal(slope)))
            }
            Elu(alpha) => Some(format!(
                "select(mul_ieee(expm1_f32(x), {}), x, f32_positive(x) || f32_is_nan(x))",
                f32_literal(alpha)
            )),
            BitNot => None,
        },
        DType::I32 | DType::U32 => {
            let signed = t == DType::I32;
            match op {
                Neg if signed => s("-x"),
                Neg => s("0u - x"), // wraps, as numpy's negative of unsigned
                Abs if signed => s("abs(x)"),
                Abs => s("x"),
                Sign if signed => s("sign(x)"),
                Sign => s("min(x, 1u)"),
                Square => s("x * x"),
                Relu if signed => s("max(x, 0)"),
                Relu => s("x"),
                BitNot => s("~x"),
                LogicalNot => Some(as_bool(if signed { "x == 0" } else { "x == 0u" })),
                IsNan | IsInf => s("0u"),
                IsFinite => s("1u"),
                Signbit => Some(as_bool(if signed { "x < 0" } else { "false" })),
                _ => None,
            }
        }
        DType::Bool => match op {
            Abs | Square | Relu | Sign => s("x"),
            BitNot | LogicalNot => s("x ^ 1u"),
            IsNan | IsInf | Signbit => s("0u"),
            IsFinite => s("1u"),
            _ => None,
        },
        _ => None,
    }
}

/// A float parameter as a WGSL f32 literal (always with a decimal point or exponent).
fn f32_literal(v: f64) -> String {
    let s = format!("{:?}", v as f32);
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// `t` is the compute dtype (both operands already have it).
pub fn binary_expr(op: BinaryOp, t: DType) -> Option<String> {
    use BinaryOp::*;
    let s = |e: &str| Some(e.to_string());
    let cmp = |o: &str| Some(as_bool(&format!("x {o} y")));
    let zero = match t {
        DType::F32 | DType::F16 => "0.0",
        DType::I32 => "0",
        _ => "0u",
    };
    let float = matches!(t, DType::F32 | DType::F16);
    // Floats through bit tests: NaN is truthy, and NaN != NaN (compilers may fold
    // comparisons of a value with itself, or use ordered comparisons).
    let truth = |v: &str| if float { format!("!f32_is_zero({v})") } else { format!("({v} != {zero})") };
    match op {
        // Floats through f32_key (common.wgsl): exact for subnormals on every driver.
        Eq if float => return Some(as_bool("f32_eq(x, y)")),
        Ne if float => return Some(as_bool("!f32_eq(x, y)")),
        Lt if float => return Some(as_bool("f32_lt(x, y)")),
        Le if float => return Some(as_bool("f32_le(x, y)")),
        Gt if float => return Some(as_bool("f32_lt(y, x)")),
        Ge if float => return Some(as_bool("f32_le(y, x)")),
        Eq => return cmp("=="),
        Ne => return cmp("!="),
        Lt => return cmp("<"),
        Le => return cmp("<="),
        Gt => return cmp(">"),
        Ge => return cmp(">="),
        LogicalAnd => return Some(as_bool(&format!("{} && {}", truth("x"), truth("y")))),
        LogicalOr => return Some(as_bool(&format!("{} || {}", truth("x"), truth("y")))),
        LogicalXor => return Some(as_bool(&format!("{} != {}", truth("x"), truth("y")))),
        _ => {}
    }
    match t {
        DType::F32 | DType::F16 => match op {
            Add => s("x + y"),
            Sub => s("x - y"),
            Mul => s("x * y"),
            Div => s("div_f32(x, y)"),
            FloorDiv => s("floordiv_f32(x, y)"),
            Rem => s("rem_f32(x, y)"),
            Pow => s("pow_f32(x, y)"),
            Maximum => s("max_f32(x, y)"),
            Minimum => s("min_f32(x, y)"),
            Atan2 => s("atan2_f32(x, y)"),
            Hypot => s("hypot_f32(x, y)"),
            Nextafter => s("nextafter_f32(x, y)"),
            Copysign => s("bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(y) & 0x80000000u))"),
            Logaddexp => s("logaddexp_f32(x, y)"),
            _ => None,
        },
        DType::I32 | DType::U32 => {
            let sfx = if t == DType::I32 { "i32" } else { "u32" };
            match op {
                Add => s("x + y"),
                Sub => s("x - y"),
                Mul => s("x * y"),
                FloorDiv => Some(format!("floordiv_{sfx}(x, y)")),
                Rem => Some(format!("rem_{sfx}(x, y)")),
                Pow => Some(format!("pow_{sfx}(x, y)")),
                Maximum => s("max(x, y)"),
                Minimum => s("min(x, y)"),
                BitAnd => s("x & y"),
                BitOr => s("x | y"),
                BitXor => s("x ^ y"),
                Shl => Some(format!("select({zero}, x << u32(y), u32(y) < 32u)")),
                Shr if t == DType::I32 => s("select(select(0, -1, x < 0), x >> u32(y), u32(y) < 32u)"),
                Shr => s("select(0u, x >> y, y < 32u)"),
                _ => None,
            }
        }
        DType::Bool => match op {
            Add | Maximum | BitOr => s("x | y"),
            Mul | Minimum | BitAnd => s("x & y"),
            BitXor => s("x ^ y"),
            _ => None,
        },
        _ => None,
    }
}

/// Converts a value `x` stored as `from` to the storage of `to` (numpy's casts; float to
/// integer saturates on the GPU where numpy's result is undefined).
pub fn cast_expr(from: DType, to: DType) -> String {
    let ty = super::wgsl_type(to).unwrap_or("u32");
    if to == DType::Bool {
        return match from {
            DType::F32 | DType::F16 => as_bool("!f32_is_zero(f32(x))"),
            DType::I32 => as_bool("x != 0"),
            _ => as_bool("x != 0u"),
        };
    }
    if from == to || super::wgsl_type(from) == Some(ty) && from != DType::Bool {
        return "x".to_string();
    }
    format!("{ty}(x)")
}

/// (combine expression of `p` and `q`, identity) for a reduction.
pub fn combine_expr(kind: ReduceKind, t: DType) -> (String, String) {
    let ty = super::wgsl_type(t).unwrap_or("u32");
    match kind {
        ReduceKind::Sum if t == DType::Bool => ("p | q".into(), "0u".into()),
        ReduceKind::Sum => ("p + q".into(), format!("{ty}(0)")),
        ReduceKind::Prod if t == DType::Bool => ("p & q".into(), "1u".into()),
        ReduceKind::Prod => ("p * q".into(), format!("{ty}(1)")),
        ReduceKind::Max => ("max(p, q)".into(), "first".into()),
        ReduceKind::Min => ("min(p, q)".into(), "first".into()),
    }
}
