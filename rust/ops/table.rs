//! The op table: every elementwise op once, with its name and its dtype rule. Kernels
//! (cpu/elementwise.rs) and, later, gradient rules and shaders key on these enums.

use crate::bail;
use crate::core::{promote, DType, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    Hypot,
    Copysign,
    Nextafter,
    Logaddexp,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogicalAnd,
    LogicalOr,
    LogicalXor,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

/// How an op treats dtypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Same dtype in and out (bool allowed where the op has a boolean meaning).
    Arith,
    /// Floats only; integer and bool inputs are computed in the default float dtype.
    FloatMath,
    /// Compared in the promoted dtype; bool out.
    Compare,
    /// Truthiness in, bool out.
    Logical,
    /// Integers and bool only.
    Bitwise,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "subtract",
            Mul => "multiply",
            Div => "divide",
            FloorDiv => "floor_divide",
            Rem => "remainder",
            Pow => "pow",
            Maximum => "maximum",
            Minimum => "minimum",
            Atan2 => "atan2",
            Hypot => "hypot",
            Copysign => "copysign",
            Nextafter => "nextafter",
            Logaddexp => "logaddexp",
            Eq => "equal",
            Ne => "not_equal",
            Lt => "less",
            Le => "less_equal",
            Gt => "greater",
            Ge => "greater_equal",
            LogicalAnd => "logical_and",
            LogicalOr => "logical_or",
            LogicalXor => "logical_xor",
            BitAnd => "bitwise_and",
            BitOr => "bitwise_or",
            BitXor => "bitwise_xor",
            Shl => "bitwise_left_shift",
            Shr => "bitwise_right_shift",
        }
    }

    pub fn family(self) -> Family {
        use BinaryOp::*;
        match self {
            Add | Sub | Mul | FloorDiv | Rem | Pow | Maximum | Minimum => Family::Arith,
            Div | Atan2 | Hypot | Copysign | Nextafter | Logaddexp => Family::FloatMath,
            Eq | Ne | Lt | Le | Gt | Ge => Family::Compare,
            LogicalAnd | LogicalOr | LogicalXor => Family::Logical,
            BitAnd | BitOr | BitXor | Shl | Shr => Family::Bitwise,
        }
    }

    /// (dtype the kernel computes in, dtype of the result) for inputs `a` and `b`.
    pub fn dtypes(self, a: DType, b: DType, default_float: DType) -> Result<(DType, DType)> {
        let p = promote(a, b);
        Ok(match self.family() {
            Family::Arith => {
                if p == DType::Bool
                    && matches!(self, BinaryOp::Sub | BinaryOp::FloorDiv | BinaryOp::Rem | BinaryOp::Pow)
                {
                    bail!(
                        Type,
                        "{} is not defined for bool tensors (use logical_xor or convert to an integer dtype)",
                        self.name()
                    );
                }
                (p, p)
            }
            Family::FloatMath => {
                let f = if p.is_float() { p } else { default_float };
                (f, f)
            }
            Family::Compare => (p, DType::Bool),
            Family::Logical => (p, DType::Bool),
            Family::Bitwise => {
                if p.is_float() {
                    bail!(Type, "{} needs integer or bool tensors, got {a} and {b}", self.name());
                }
                if p == DType::Bool && matches!(self, BinaryOp::Shl | BinaryOp::Shr) {
                    bail!(Type, "{} needs integer tensors, got {a} and {b}", self.name());
                }
                (p, p)
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Pos,
    Abs,
    Sign,
    Square,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Exp,
    Exp2,
    Expm1,
    Log,
    Log1p,
    Log2,
    Log10,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Erf,
    Floor,
    Ceil,
    Trunc,
    Round,
    IsNan,
    IsInf,
    IsFinite,
    Signbit,
    LogicalNot,
    BitNot,
    Relu,
    Sigmoid,
    Softplus,
    Gelu,
    GeluTanh,
    Silu,
    LeakyRelu(f64),
    Elu(f64),
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "negative",
            Pos => "positive",
            Abs => "abs",
            Sign => "sign",
            Square => "square",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Reciprocal => "reciprocal",
            Exp => "exp",
            Exp2 => "exp2",
            Expm1 => "expm1",
            Log => "log",
            Log1p => "log1p",
            Log2 => "log2",
            Log10 => "log10",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Asinh => "asinh",
            Acosh => "acosh",
            Atanh => "atanh",
            Erf => "erf",
            Floor => "floor",
            Ceil => "ceil",
            Trunc => "trunc",
            Round => "round",
            IsNan => "isnan",
            IsInf => "isinf",
            IsFinite => "isfinite",
            Signbit => "signbit",
            LogicalNot => "logical_not",
            BitNot => "bitwise_invert",
            Relu => "relu",
            Sigmoid => "sigmoid",
            Softplus => "softplus",
            Gelu => "gelu",
            GeluTanh => "gelu_tanh",
            Silu => "silu",
            LeakyRelu(_) => "leaky_relu",
            Elu(_) => "elu",
        }
    }

    /// (compute dtype, result dtype) for an input of dtype `a`.
    pub fn dtypes(self, a: DType, default_float: DType) -> Result<(DType, DType)> {
        use UnaryOp::*;
        let float = if a.is_float() { a } else { default_float };
        Ok(match self {
            Neg | Abs | Sign | Square | Relu => {
                if a == DType::Bool && matches!(self, Neg) {
                    bail!(Type, "negative is not defined for bool tensors (use logical_not)");
                }
                (a, a)
            }
            Pos | Floor | Ceil | Trunc | Round => (a, a),
            IsNan | IsInf | IsFinite | Signbit => (a, DType::Bool),
            LogicalNot => (a, DType::Bool),
            BitNot => {
                if a.is_float() {
                    bail!(Type, "bitwise_invert needs an integer or bool tensor, got {a}");
                }
                (a, a)
            }
            _ => (float, float),
        })
    }
}
