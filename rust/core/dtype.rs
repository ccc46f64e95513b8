//! Element types: the runtime [`DType`] tag, the [`Element`] trait that ties it to a Rust
//! type, and [`Scalar`], the dtype-less value that crosses API boundaries.

use half::{bf16, f16};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F16,
    BF16,
    F32,
    F64,
}

pub const ALL_DTYPES: [DType; 13] = [
    DType::Bool,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

impl DType {
    pub const ALL: [DType; 13] = ALL_DTYPES;

    pub fn size(self) -> usize {
        use DType::*;
        match self {
            Bool | I8 | U8 => 1,
            I16 | U16 | F16 | BF16 => 2,
            I32 | U32 | F32 => 4,
            I64 | U64 | F64 => 8,
        }
    }

    /// The numpy / Array API name.
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Bool => "bool",
            I8 => "int8",
            I16 => "int16",
            I32 => "int32",
            I64 => "int64",
            U8 => "uint8",
            U16 => "uint16",
            U32 => "uint32",
            U64 => "uint64",
            F16 => "float16",
            BF16 => "bfloat16",
            F32 => "float32",
            F64 => "float64",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        use DType::*;
        Some(match name {
            "bool" | "bool_" => Bool,
            "int8" => I8,
            "int16" | "short" => I16,
            "int32" | "int" => I32,
            "int64" | "long" => I64,
            "uint8" => U8,
            "uint16" => U16,
            "uint32" => U32,
            "uint64" => U64,
            "float16" | "half" => F16,
            "bfloat16" => BF16,
            "float32" | "float" => F32,
            "float64" | "double" => F64,
            _ => return None,
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    pub fn is_int(self) -> bool {
        !self.is_float() && self != DType::Bool
    }

    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    /// numpy's `__array_interface__` type string; `None` for bfloat16, which numpy lacks.
    pub fn typestr(self) -> Option<&'static str> {
        use DType::*;
        Some(match self {
            Bool => "|b1",
            I8 => "|i1",
            I16 => "<i2",
            I32 => "<i4",
            I64 => "<i8",
            U8 => "|u1",
            U16 => "<u2",
            U32 => "<u4",
            U64 => "<u8",
            F16 => "<f2",
            F32 => "<f4",
            F64 => "<f8",
            BF16 => return None,
        })
    }

    /// Inverse of [`DType::typestr`] (accepts native '=' and little-endian '<' / '|').
    pub fn from_typestr(s: &str) -> Option<DType> {
        let b = s.as_bytes();
        if b.len() < 3 || !matches!(b[0], b'<' | b'|' | b'=') {
            return None;
        }
        let size: usize = s[2..].parse().ok()?;
        use DType::*;
        Some(match (b[1], size) {
            (b'b', 1) => Bool,
            (b'i', 1) => I8,
            (b'i', 2) => I16,
            (b'i', 4) => I32,
            (b'i', 8) => I64,
            (b'u', 1) => U8,
            (b'u', 2) => U16,
            (b'u', 4) => U32,
            (b'u', 8) => U64,
            (b'f', 2) => F16,
            (b'f', 4) => F32,
            (b'f', 8) => F64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A value without a storage dtype. Casting rules follow numpy's `astype` (C casts):
/// floats truncate toward zero into integers, integers wrap, anything non-zero is `true`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Scalar {
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::UInt(u) => u as f64,
            Scalar::Float(f) => f,
        }
    }

    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::UInt(u) => u as i64,
            Scalar::Float(f) => f as i64,
        }
    }

    pub fn cast<T: Element>(self) -> T {
        T::from_scalar(self)
    }
}

/// Ties a Rust type to its [`DType`]; every kernel is generic over it.
pub trait Element: Copy + Send + Sync + PartialEq + Default + std::fmt::Debug + 'static {
    const DTYPE: DType;
    fn to_scalar(self) -> Scalar;
    fn from_scalar(s: Scalar) -> Self;
    fn from_f64(v: f64) -> Self {
        Self::from_scalar(Scalar::Float(v))
    }
    fn to_f64(self) -> f64 {
        self.to_scalar().to_f64()
    }
}

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    #[inline(always)]
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => b,
            Scalar::Int(i) => i != 0,
            Scalar::UInt(u) => u != 0,
            Scalar::Float(f) => f != 0.0,
        }
    }
}

macro_rules! int_element {
    ($t:ty, $dt:ident, $variant:ident, $wide:ty) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            #[inline(always)]
            fn to_scalar(self) -> Scalar {
                Scalar::$variant(self as $wide)
            }
            #[inline(always)]
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::Bool(b) => b as $t,
                    Scalar::Int(i) => i as $t,
                    Scalar::UInt(u) => u as $t,
                    // Out-of-range floats saturate (numpy leaves them undefined); NaN gives 0.
                    Scalar::Float(f) => f as $t,
                }
            }
        }
    };
}
int_element!(i8, I8, Int, i64);
int_element!(i16, I16, Int, i64);
int_element!(i32, I32, Int, i64);
int_element!(i64, I64, Int, i64);
int_element!(u8, U8, UInt, u64);
int_element!(u16, U16, UInt, u64);
int_element!(u32, U32, UInt, u64);
int_element!(u64, U64, UInt, u64);

macro_rules! float_element {
    ($t:ty, $dt:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            #[inline(always)]
            fn to_scalar(self) -> Scalar {
                Scalar::Float($to(self))
            }
            #[inline(always)]
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::Bool(b) => $from(b as u8 as f64),
                    Scalar::Int(i) => $from(i as f64),
                    Scalar::UInt(u) => $from(u as f64),
                    Scalar::Float(f) => $from(f),
                }
            }
        }
    };
}
float_element!(f32, F32, |x: f32| x as f64, |v: f64| v as f32);
float_element!(f64, F64, |x: f64| x, |v: f64| v);
float_element!(f16, F16, |x: f16| x.to_f64(), |v| f16::from_f32(f32_round_to_odd(v)));
float_element!(bf16, BF16, |x: bf16| x.to_f64(), |v| bf16::from_f32(f32_round_to_odd(v)));

/// `v` rounded to float32 towards zero, with the last bit set when that was inexact
/// ("round to odd"). Rounding that to float16/bfloat16 (13 or 16 fewer bits) then gives
/// the correctly rounded result: `half`'s own `from_f64` drops the low 32 bits of the
/// mantissa first, so a value just above a halfway point (e.g. float32 0x3f808001 to
/// bfloat16) rounded down.
fn f32_round_to_odd(v: f64) -> f32 {
    let f = v as f32;
    if !f.is_finite() || f as f64 == v {
        return f;
    }
    let mut bits = f.to_bits();
    if (f as f64).abs() > v.abs() {
        bits -= 1; // undo rounding away from zero: same sign, one ulp smaller
    }
    f32::from_bits(bits | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            if let Some(ts) = d.typestr() {
                assert_eq!(DType::from_typestr(ts), Some(d));
            }
        }
    }

    #[test]
    fn casts_follow_numpy() {
        assert_eq!(Scalar::Float(-1.7).cast::<i32>(), -1);
        assert_eq!(Scalar::Int(300).cast::<u8>(), 44);
        assert!(Scalar::Float(f64::NAN).cast::<bool>());
        assert!(!Scalar::Int(0).cast::<bool>());
        assert_eq!(Scalar::Bool(true).cast::<f16>(), f16::ONE);
    }
}

/// Result dtype of combining two tensors: the Array API table within a kind, numpy's
/// rule for signed/unsigned mixes (uint64 with a signed int gives float64), and
/// PyTorch's rule across kinds (an integer tensor with a float tensor gives that float).
pub fn promote(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (Bool, x) | (x, Bool) => x,
        (F16, BF16) | (BF16, F16) => F32,
        (x, y) if x.is_float() && y.is_float() => {
            if x.size() >= y.size() {
                x
            } else {
                y
            }
        }
        (x, _) if x.is_float() => x,
        (_, y) if y.is_float() => y,
        (x, y) if x.is_signed_int() == y.is_signed_int() => {
            if x.size() >= y.size() {
                x
            } else {
                y
            }
        }
        (x, y) => {
            let (s, u) = if x.is_signed_int() { (x, y) } else { (y, x) };
            if s.size() > u.size() {
                return s;
            }
            match u.size() {
                1 => I16,
                2 => I32,
                4 => I64,
                _ => F64,
            }
        }
    }
}

#[cfg(test)]
mod promote_tests {
    use super::{promote, DType::*};

    #[test]
    fn table() {
        assert_eq!(promote(I8, U8), I16);
        assert_eq!(promote(I64, U8), I64);
        assert_eq!(promote(I32, U32), I64);
        assert_eq!(promote(I64, U64), F64);
        assert_eq!(promote(I64, F32), F32);
        assert_eq!(promote(F16, BF16), F32);
        assert_eq!(promote(Bool, U16), U16);
        assert_eq!(promote(F32, F64), F64);
    }

    #[test]
    fn half_types_round_to_nearest_even_from_f64() {
        use crate::core::{Element, Scalar};
        use half::{bf16, f16};
        for (bits, want) in
            [(0x3f80_8001u32, 0x3f81u16), (0x5b46_8001, 0x5b47), (0x3f80_8000, 0x3f80), (0x3f81_8000, 0x3f82)]
        {
            let v = f32::from_bits(bits) as f64;
            assert_eq!(<bf16 as Element>::from_scalar(Scalar::Float(v)).to_bits(), want, "{bits:#x}");
        }
        // 1 + 2^-11 + 2^-40: just above halfway between two float16 values
        let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(<f16 as Element>::from_scalar(Scalar::Float(v)).to_f64(), 1.0 + 2f64.powi(-10));
        assert_eq!(<f16 as Element>::from_scalar(Scalar::Float(1.0 + 2f64.powi(-11))).to_f64(), 1.0);
        assert!(<bf16 as Element>::from_scalar(Scalar::Float(f64::NAN)).is_nan());
        assert_eq!(<bf16 as Element>::from_scalar(Scalar::Float(-1e300)).to_f64(), f64::NEG_INFINITY);
    }
}

static DEFAULT_FLOAT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(DType::F32 as u8);

/// The dtype that Python floats and integer-to-float promotions produce (float32 unless
/// `set_default_dtype(float64)`).
pub fn default_float() -> DType {
    if DEFAULT_FLOAT.load(std::sync::atomic::Ordering::Relaxed) == DType::F64 as u8 {
        DType::F64
    } else {
        DType::F32
    }
}

pub fn set_default_float(d: DType) {
    DEFAULT_FLOAT
        .store(if d == DType::F64 { DType::F64 } else { DType::F32 } as u8, std::sync::atomic::Ordering::Relaxed);
}
