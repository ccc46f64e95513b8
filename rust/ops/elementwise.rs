//! Tensor-level elementwise ops: dtype rules from the op table, weak Python scalars,
//! broadcasting, optional output tensors (in-place ops), then one kernel launch.

// The op tables below spell every kernel as a closure on purpose: one uniform shape per
// arm, whether the body is a trait method or an expression; generic comparisons are
// instantiated for bool too.
#![allow(clippy::redundant_closure, clippy::bool_comparison)]

use crate::bail;
use crate::core::{broadcast_shapes, default_float, DType, Device, Result, Scalar, Tensor};
use crate::cpu::elementwise as k;
use crate::cpu::fmath::FloatMath;
use crate::cpu::num::{Bits, Num};
use crate::cpu::strided::MultiPlan;
use crate::ops::copy::{assign, astype, contiguous_copy};
use crate::ops::create::full_on;
use crate::ops::device::common_device;
use crate::ops::table::{BinaryOp, Family, UnaryOp};
use crate::with_dtype;

/// An operand: a tensor, or a Python scalar that adopts the tensor's dtype where it can
/// (the Array API's "weak" scalars: `float32_tensor * 2.0` stays float32).
#[derive(Clone)]
pub enum Operand {
    Tensor(Tensor),
    Scalar(Scalar),
}

/// The dtype a weak scalar takes next to a tensor of dtype `t`.
fn weak_dtype(t: DType, s: Scalar) -> DType {
    match s {
        Scalar::Bool(_) => t,
        Scalar::Int(_) | Scalar::UInt(_) if t == DType::Bool => {
            if matches!(s, Scalar::UInt(_)) {
                DType::U64
            } else {
                DType::I64
            }
        }
        Scalar::Int(_) | Scalar::UInt(_) => t,
        Scalar::Float(_) if t.is_float() => t,
        Scalar::Float(_) => default_float(),
    }
}

fn strong_dtype(s: Scalar) -> DType {
    match s {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::UInt(_) => DType::U64,
        Scalar::Float(_) => default_float(),
    }
}

/// Both operands as tensors, scalars materialised as 0-d tensors on the other
/// operand's device.
pub fn resolve(a: Operand, b: Operand) -> Result<(Tensor, Tensor)> {
    Ok(match (a, b) {
        (Operand::Tensor(a), Operand::Tensor(b)) => (a, b),
        (Operand::Tensor(a), Operand::Scalar(s)) => {
            let d = scalar_dtype_on(weak_dtype(a.dtype(), s), a.device());
            let dev = a.device();
            (a, full_on(&[], s, d, dev)?)
        }
        (Operand::Scalar(s), Operand::Tensor(b)) => {
            let d = scalar_dtype_on(weak_dtype(b.dtype(), s), b.device());
            (full_on(&[], s, d, b.device())?, b)
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            (full_on(&[], x, strong_dtype(x), Device::Cpu)?, full_on(&[], y, strong_dtype(y), Device::Cpu)?)
        }
    })
}

/// A 0-d CPU tensor next to a GPU tensor is a scalar operand, as in PyTorch: it moves
/// to the GPU (a 4-byte upload). Any other mix of devices stays an error.
fn scalars_follow(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let scalar_of_cpu = |t: &Tensor| t.ndim() == 0 && t.device() == Device::Cpu;
    Ok(match (a.device(), b.device()) {
        (da, db) if da == db => (a.clone(), b.clone()),
        (Device::Gpu(_), _) if scalar_of_cpu(b) => {
            let d = scalar_dtype_on(b.dtype(), a.device());
            (a.clone(), crate::ops::copy::to_device(&cast(b, d)?, a.device())?)
        }
        (_, Device::Gpu(_)) if scalar_of_cpu(a) => {
            let d = scalar_dtype_on(a.dtype(), b.device());
            (crate::ops::copy::to_device(&cast(a, d)?, b.device())?, b.clone())
        }
        _ => (a.clone(), b.clone()),
    })
}

/// The dtype a scalar takes on `device`: the GPU holds 32-bit types only, so a weak
/// integer scalar (int64 next to a bool tensor) or a 0-d CPU tensor joining a GPU op
/// becomes int32/uint32/float32 there, as PyTorch lets 0-d tensors adapt.
fn scalar_dtype_on(d: DType, device: Device) -> DType {
    if !device.is_gpu() || crate::gpu::wgsl_type(d).is_some() {
        d
    } else if d.is_float() {
        DType::F32
    } else if matches!(d, DType::U8 | DType::U16 | DType::U64) {
        DType::U32
    } else {
        DType::I32
    }
}

fn cast(t: &Tensor, d: DType) -> Result<Tensor> {
    if t.dtype() == d {
        Ok(t.clone())
    } else {
        astype(t, d)
    }
}

/// Whether `from` may be stored into `to` by an in-place op (numpy's same-kind rule).
fn can_store(from: DType, to: DType) -> bool {
    let kind = |d: DType| {
        if d == DType::Bool {
            0
        } else if d.is_int() {
            1
        } else {
            2
        }
    };
    kind(from) <= kind(to)
}

/// Where the result goes: a fresh tensor, or `out` (in-place ops) when dtypes allow.
fn destination(
    out: Option<&Tensor>,
    shape: &[usize],
    dtype: DType,
    name: &str,
    inputs: &[&Tensor],
) -> Result<(Tensor, Option<Tensor>)> {
    let device = common_device(name, inputs)?;
    match out {
        None => Ok((Tensor::for_overwrite_on(shape, dtype, device)?, None)),
        Some(o) => {
            common_device(name, &[inputs[0], o])?;
            o.check_writable()?;
            if o.shape() != shape {
                bail!(Value, "{name}: the result of shape {shape:?} does not fit the output of shape {:?}", o.shape());
            }
            if !can_store(dtype, o.dtype()) {
                bail!(Type, "{name}: the result dtype {dtype} cannot be stored in a {} tensor in place", o.dtype());
            }
            let aliased = inputs.iter().any(|t| o.may_overlap(t) && t.layout() != o.layout());
            if o.dtype() != dtype || aliased {
                // Compute into a temporary, then cast/copy into the destination.
                Ok((Tensor::for_overwrite_on(shape, dtype, device)?, Some(o.clone())))
            } else {
                Ok((o.clone(), None))
            }
        }
    }
}

fn finish(result: Tensor, pending: Option<Tensor>) -> Result<Tensor> {
    match pending {
        Some(dst) => {
            assign(&dst, &result)?;
            Ok(dst)
        }
        None => Ok(result),
    }
}

macro_rules! with_float {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::F16 => {
                type $T = half::f16;
                $body
            }
            DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            d => bail!(Type, "expected a floating dtype, got {d}"),
        }
    };
}

macro_rules! with_int {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            DType::Bool => {
                type $T = bool;
                $body
            }
            DType::I8 => {
                type $T = i8;
                $body
            }
            DType::I16 => {
                type $T = i16;
                $body
            }
            DType::I32 => {
                type $T = i32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::U8 => {
                type $T = u8;
                $body
            }
            DType::U16 => {
                type $T = u16;
                $body
            }
            DType::U32 => {
                type $T = u32;
                $body
            }
            DType::U64 => {
                type $T = u64;
                $body
            }
            d => bail!(Type, "expected an integer or bool dtype, got {d}"),
        }
    };
}

/// A GPU tensor next to a Python scalar or a 0-d CPU tensor: (the tensor, the scalar as
/// a 0-d CPU tensor of the dtype it takes on the GPU, whether it is the left operand).
fn gpu_tensor_and_scalar(a: &Operand, b: &Operand) -> Result<Option<(Tensor, Tensor, bool)>> {
    let scalar = |t: &Tensor, other: &Operand| -> Result<Option<Tensor>> {
        Ok(match other {
            Operand::Scalar(s) => {
                Some(full_on(&[], *s, scalar_dtype_on(weak_dtype(t.dtype(), *s), t.device()), Device::Cpu)?)
            }
            Operand::Tensor(c) if c.ndim() == 0 && c.device() == Device::Cpu => {
                Some(cast(c, scalar_dtype_on(c.dtype(), t.device()))?)
            }
            Operand::Tensor(_) => None,
        })
    };
    Ok(match (a, b) {
        (Operand::Tensor(t), other) if t.device().is_gpu() => scalar(t, other)?.map(|s| (t.clone(), s, false)),
        (other, Operand::Tensor(t)) if t.device().is_gpu() => scalar(t, other)?.map(|s| (t.clone(), s, true)),
        _ => None,
    })
}

/// `op(t, s)` (or `op(s, t)`) on a GPU with the scalar in the kernel's metadata: one
/// dispatch, where materialising the scalar would cost a fill or an upload first.
fn gpu_binary_scalar(op: BinaryOp, t: &Tensor, s: &Tensor, scalar_first: bool, out: Option<&Tensor>) -> Result<Tensor> {
    let (x, y) = if scalar_first { (s.dtype(), t.dtype()) } else { (t.dtype(), s.dtype()) };
    let (cdt, odt) = op.dtypes(x, y, default_float())?;
    let shape = t.shape().to_vec();
    let tc = cast(t, cdt)?;
    let value = crate::ops::copy::item(&cast(s, cdt)?)?;
    let (res, pending) = destination(out, &shape, odt, op.name(), &[&tc])?;
    crate::gpu::binary_scalar(op, &res, &tc, tc.layout(), value, scalar_first)?;
    finish(res, pending)
}

/// `op(a, b)`, into `out` when given (which then must have the broadcast shape).
pub fn binary(op: BinaryOp, a: Operand, b: Operand, out: Option<&Tensor>) -> Result<Tensor> {
    if let Some((t, s, scalar_first)) = gpu_tensor_and_scalar(&a, &b)? {
        return gpu_binary_scalar(op, &t, &s, scalar_first, out);
    }
    let (a, b) = resolve(a, b)?;
    let (a, b) = scalars_follow(&a, &b)?;
    common_device(op.name(), &[&a, &b])?;
    let (cdt, odt) = op.dtypes(a.dtype(), b.dtype(), default_float())?;
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (a, b) = (cast(&a, cdt)?, cast(&b, cdt)?);
    let (res, pending) = destination(out, &shape, odt, op.name(), &[&a, &b])?;
    let la = a.layout().broadcast_to(&shape)?;
    let lb = b.layout().broadcast_to(&shape)?;
    if res.device().is_gpu() {
        crate::gpu::binary(op, &res, &a, &la, &b, &lb)?;
        return finish(res, pending);
    }
    let plan = MultiPlan::new(&shape, [res.strides(), &la.strides, &lb.strides]);
    let (pa, pb, po) = (a.data_ptr_at(la.offset), b.data_ptr_at(lb.offset), res.data_ptr());
    macro_rules! go {
        ($T:ty, $O:ty, $f:expr) => {
            unsafe { k::binary(&plan, po as *mut $O, pa as *const $T, pb as *const $T, $f) }
        };
    }
    match op.family() {
        Family::Arith => with_dtype!(cdt, T => match op {
            BinaryOp::Add => go!(T, T, |x, y| <T as Num>::add(x, y)),
            BinaryOp::Sub => go!(T, T, |x, y| <T as Num>::sub(x, y)),
            BinaryOp::Mul => go!(T, T, |x, y| <T as Num>::mul(x, y)),
            BinaryOp::FloorDiv => go!(T, T, |x, y| <T as Num>::floor_div(x, y)),
            BinaryOp::Rem => go!(T, T, |x, y| <T as Num>::rem(x, y)),
            BinaryOp::Pow => go!(T, T, |x, y| <T as Num>::pow(x, y)),
            BinaryOp::Maximum => go!(T, T, |x, y| <T as Num>::max(x, y)),
            BinaryOp::Minimum => go!(T, T, |x, y| <T as Num>::min(x, y)),
            _ => unreachable!("arith family"),
        }),
        Family::FloatMath => with_float!(cdt, T => match op {
            BinaryOp::Div => go!(T, T, |x, y| T::binary(BinaryOp::Div, x, y)),
            BinaryOp::Atan2 => go!(T, T, |x, y| T::binary(BinaryOp::Atan2, x, y)),
            BinaryOp::Hypot => go!(T, T, |x, y| T::binary(BinaryOp::Hypot, x, y)),
            BinaryOp::Copysign => go!(T, T, |x, y| T::binary(BinaryOp::Copysign, x, y)),
            BinaryOp::Nextafter => go!(T, T, |x, y| T::binary(BinaryOp::Nextafter, x, y)),
            BinaryOp::Logaddexp => go!(T, T, |x, y| T::binary(BinaryOp::Logaddexp, x, y)),
            _ => unreachable!("float family"),
        }),
        Family::Compare => with_dtype!(cdt, T => match op {
            BinaryOp::Eq => go!(T, bool, |x: T, y: T| x == y),
            BinaryOp::Ne => go!(T, bool, |x: T, y: T| x != y),
            BinaryOp::Lt => go!(T, bool, |x: T, y: T| x < y),
            BinaryOp::Le => go!(T, bool, |x: T, y: T| x <= y),
            BinaryOp::Gt => go!(T, bool, |x: T, y: T| x > y),
            BinaryOp::Ge => go!(T, bool, |x: T, y: T| x >= y),
            _ => unreachable!("compare family"),
        }),
        Family::Logical => with_dtype!(cdt, T => {
            let z = T::default();
            match op {
                BinaryOp::LogicalAnd => go!(T, bool, move |x: T, y: T| x != z && y != z),
                BinaryOp::LogicalOr => go!(T, bool, move |x: T, y: T| x != z || y != z),
                BinaryOp::LogicalXor => go!(T, bool, move |x: T, y: T| (x != z) != (y != z)),
                _ => unreachable!("logical family"),
            }
        }),
        Family::Bitwise => with_int!(cdt, T => match op {
            BinaryOp::BitAnd => go!(T, T, |x, y| <T as Bits>::and(x, y)),
            BinaryOp::BitOr => go!(T, T, |x, y| <T as Bits>::or(x, y)),
            BinaryOp::BitXor => go!(T, T, |x, y| <T as Bits>::xor(x, y)),
            BinaryOp::Shl => go!(T, T, |x, y| <T as Bits>::shl(x, y)),
            BinaryOp::Shr => go!(T, T, |x, y| <T as Bits>::shr(x, y)),
            _ => unreachable!("bitwise family"),
        }),
    }
    finish(res, pending)
}

/// `op(x)`, into `out` when given.
pub fn unary(op: UnaryOp, x: &Tensor, out: Option<&Tensor>) -> Result<Tensor> {
    let (cdt, odt) = op.dtypes(x.dtype(), default_float())?;
    let x = cast(x, cdt)?;
    let (res, pending) = destination(out, x.shape(), odt, op.name(), &[&x])?;
    if res.device().is_gpu() {
        if matches!(op, UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Trunc | UnaryOp::Round | UnaryOp::Pos)
            && !cdt.is_float()
        {
            return finish_copy(&x, res, pending);
        }
        crate::gpu::unary(op, &res, &x)?;
        return finish(res, pending);
    }
    let plan = MultiPlan::new(x.shape(), [res.strides(), x.strides()]);
    let (px, po) = (x.data_ptr(), res.data_ptr());
    macro_rules! go {
        ($T:ty, $O:ty, $f:expr) => {
            unsafe { k::unary(&plan, po as *mut $O, px as *const $T, $f) }
        };
    }
    use UnaryOp::*;
    match op {
        IsNan | IsInf | IsFinite | Signbit if cdt.is_float() => with_float!(cdt, T => match op {
            IsNan => go!(T, bool, |v: T| v.is_nan_()),
            IsInf => go!(T, bool, |v: T| v.is_inf_()),
            IsFinite => go!(T, bool, |v: T| !v.is_nan_() && !v.is_inf_()),
            _ => go!(T, bool, |v: T| v.signbit_()),
        }),
        IsNan | IsInf | IsFinite | Signbit => with_dtype!(cdt, T => {
            let z = T::default();
            match op {
                IsFinite => go!(T, bool, |_v: T| true),
                Signbit => go!(T, bool, move |v: T| v < z),
                _ => go!(T, bool, |_v: T| false),
            }
        }),
        LogicalNot => with_dtype!(cdt, T => {
            let z = T::default();
            go!(T, bool, move |v: T| v == z)
        }),
        BitNot => with_int!(cdt, T => go!(T, T, |v| <T as Bits>::not(v))),
        Floor | Ceil | Trunc | Round | Pos if !cdt.is_float() => return finish_copy(&x, res, pending),
        Neg | Abs | Sign | Square | Relu if !cdt.is_float() => with_dtype!(cdt, T => {
            let z = T::default();
            match op {
                Neg => go!(T, T, |v| <T as Num>::neg(v)),
                Abs => go!(T, T, |v| <T as Num>::abs(v)),
                Sign => go!(T, T, |v| <T as Num>::sign(v)),
                Square => go!(T, T, |v| <T as Num>::mul(v, v)),
                _ => go!(T, T, move |v: T| if v > z { v } else { z }),
            }
        }),
        _ => with_float!(cdt, T => float_unary::<T>(op, &plan, po, px)),
    }
    finish(res, pending)
}

fn finish_copy(x: &Tensor, res: Tensor, pending: Option<Tensor>) -> Result<Tensor> {
    assign(&res, x)?;
    finish(res, pending)
}

/// One instantiation per op, so each loop body is a single inlined expression.
fn float_unary<T: FloatMath>(op: UnaryOp, plan: &MultiPlan<2>, po: *mut u8, px: *mut u8) {
    macro_rules! arms {
        ($($v:ident),*) => {
            match op {
                $(UnaryOp::$v => unsafe { k::unary(plan, po as *mut T, px as *const T, |v: T| T::unary(UnaryOp::$v, v)) },)*
                UnaryOp::LeakyRelu(s) => unsafe { k::unary(plan, po as *mut T, px as *const T, move |v: T| T::unary(UnaryOp::LeakyRelu(s), v)) },
                UnaryOp::Elu(a) => unsafe { k::unary(plan, po as *mut T, px as *const T, move |v: T| T::unary(UnaryOp::Elu(a), v)) },
                _ => unreachable!("non-float unary op {op:?} reached the float path"),
            }
        };
    }
    arms!(
        Neg, Pos, Abs, Sign, Square, Sqrt, Rsqrt, Reciprocal, Exp, Exp2, Expm1, Log, Log1p, Log2, Log10, Sin, Cos, Tan,
        Asin, Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Erf, Floor, Ceil, Trunc, Round, Relu, Sigmoid,
        Softplus, Gelu, GeluTanh, Silu
    )
}

/// `where(cond, a, b)` with broadcasting and promotion of `a` and `b`.
pub fn select(cond: &Tensor, a: Operand, b: Operand) -> Result<Tensor> {
    let (a, b) = resolve(a, b)?;
    let (a, b) = scalars_follow(&a, &b)?;
    let (a, cond) = scalars_follow(&a, cond)?;
    let (b, cond) = scalars_follow(&b, &cond)?;
    let device = common_device("where", &[&cond, &a, &b])?;
    let dt = crate::core::promote(a.dtype(), b.dtype());
    let (a, b) = (cast(&a, dt)?, cast(&b, dt)?);
    let c = cast(&cond, DType::Bool)?;
    let shape = broadcast_shapes(&broadcast_shapes(c.shape(), a.shape())?, b.shape())?;
    let out = Tensor::for_overwrite_on(&shape, dt, device)?;
    let (lc, la, lb) =
        (c.layout().broadcast_to(&shape)?, a.layout().broadcast_to(&shape)?, b.layout().broadcast_to(&shape)?);
    if device.is_gpu() {
        crate::gpu::select(&out, &c, &lc, &a, &la, &b, &lb)?;
        return Ok(out);
    }
    let plan = MultiPlan::new(&shape, [out.strides(), &lc.strides, &la.strides, &lb.strides]);
    with_dtype!(dt, T => unsafe {
        k::select(
            &plan,
            out.data_ptr() as *mut T,
            c.data_ptr_at(lc.offset) as *const bool,
            a.data_ptr_at(la.offset) as *const T,
            b.data_ptr_at(lb.offset) as *const T,
        )
    });
    Ok(out)
}

/// numpy's `clip`: `minimum(maximum(x, lo), hi)`, either bound optional.
pub fn clip(x: &Tensor, lo: Option<Operand>, hi: Option<Operand>, out: Option<&Tensor>) -> Result<Tensor> {
    let mut cur = x.clone();
    let mut last = None;
    if let Some(lo) = lo {
        last = Some(binary(BinaryOp::Maximum, Operand::Tensor(cur.clone()), lo, None)?);
        cur = last.clone().expect("just set");
    }
    if let Some(hi) = hi {
        last = Some(binary(BinaryOp::Minimum, Operand::Tensor(cur.clone()), hi, None)?);
    }
    let res = match last {
        Some(r) => r,
        None => contiguous_copy(x)?,
    };
    match out {
        Some(o) => {
            assign(o, &res)?;
            Ok(o.clone())
        }
        None => Ok(res),
    }
}
