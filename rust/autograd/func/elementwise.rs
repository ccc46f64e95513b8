//! Differentiable elementwise ops: the raw kernels of `ops::elementwise` plus their
//! derivative formulas. Formulas are written with these same functions, so a backward
//! pass run with `create_graph` is itself recorded (gradients of gradients).

use std::sync::Weak;

use super::{inplace_target, rebase};
use crate::autograd::graph::{record_with, BackwardFn, Grads, Node, Saved};
use crate::autograd::mode;
use crate::bail;
use crate::core::{Result, Scalar, Tensor};
use crate::ops::elementwise::{self as ew, Operand};
use crate::ops::table::{BinaryOp, UnaryOp};

fn tensor_of(o: &Operand) -> Option<&Tensor> {
    match o {
        Operand::Tensor(t) => Some(t),
        Operand::Scalar(_) => None,
    }
}

fn rg(o: &Operand) -> bool {
    tensor_of(o).is_some_and(|t| t.requires_grad())
}

pub fn c(v: f64) -> Operand {
    Operand::Scalar(Scalar::Float(v))
}

pub fn t(x: &Tensor) -> Operand {
    Operand::Tensor(x.clone())
}

// Short differentiable helpers used by every formula.
pub fn bin(op: BinaryOp, a: Operand, b: Operand) -> Result<Tensor> {
    binary(op, a, b, None)
}
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bin(BinaryOp::Add, t(a), t(b))
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bin(BinaryOp::Sub, t(a), t(b))
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bin(BinaryOp::Mul, t(a), t(b))
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bin(BinaryOp::Div, t(a), t(b))
}
pub fn scale(a: &Tensor, k: f64) -> Result<Tensor> {
    bin(BinaryOp::Mul, t(a), c(k))
}
pub fn shift(a: &Tensor, k: f64) -> Result<Tensor> {
    bin(BinaryOp::Add, t(a), c(k))
}
pub fn un(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    unary(op, x, None)
}
/// `g` where `mask` holds, else 0 (a constant mask: no gradient flows into it).
pub fn masked(g: &Tensor, mask: &Tensor) -> Result<Tensor> {
    select(mask, t(g), c(0.0))
}
/// A raw comparison: bool result, never recorded.
pub fn cmp(op: BinaryOp, a: Operand, b: Operand) -> Result<Tensor> {
    ew::binary(op, a, b, None)
}

fn differentiable_binary(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Add | Sub | Mul | Div | Pow | Maximum | Minimum | Atan2 | Hypot | Logaddexp | Copysign | Rem)
}

/// `op(a, b)`, recorded when an operand requires grad. `out` is the in-place form
/// (`a += b` passes `out = a`).
pub fn binary(op: BinaryOp, a: Operand, b: Operand, out: Option<&Tensor>) -> Result<Tensor> {
    let grad = mode::is_enabled() && (rg(&a) || rg(&b) || out.is_some_and(|o| o.requires_grad()));
    if !grad {
        return ew::binary(op, a, b, out);
    }
    if let Some(o) = out {
        let old = inplace_target(o, tensor_of(&a), op.name())?;
        ew::binary(op, a, b.clone(), Some(o))?;
        if o.dtype().is_float() && differentiable_binary(op) {
            // `x *= x`: the second operand is the old value too.
            let b = if tensor_of(&b).is_some_and(|x| x.same(o)) { Operand::Tensor(old.clone()) } else { b };
            let a_old = Operand::Tensor(old);
            let (ia, ib) = (tensor_of(&a_old).cloned(), tensor_of(&b).cloned());
            rebase(o, super::node_name(op.name()), &[ia.as_ref(), ib.as_ref()], |n| {
                binary_backward(op, a_old, b, o, n)
            });
        }
        return Ok(o.clone());
    }
    let r = ew::binary(op, a.clone(), b.clone(), None)?;
    if r.dtype().is_float() && differentiable_binary(op) {
        let (ia, ib) = (tensor_of(&a).cloned(), tensor_of(&b).cloned());
        let ins: Vec<&Tensor> = [ia.as_ref(), ib.as_ref()].into_iter().flatten().collect();
        record_with(super::node_name(op.name()), &ins, &[&r], |n| binary_backward(op, a, b, &r, n));
    }
    Ok(r)
}

/// The backward closure of `out = op(a, b)`: one gradient per tensor operand.
fn binary_backward(op: BinaryOp, a: Operand, b: Operand, out: &Tensor, node: &Weak<Node>) -> BackwardFn {
    let (wa, wb) = (matches!(a, Operand::Tensor(_)), matches!(b, Operand::Tensor(_)));
    // Save only the operands the formula reads (PyTorch's rule): `y = a + b` leaves `a`
    // and `b` free to be modified in place later, and holds no memory for them.
    let (ra, rb) = (rg(&a), rg(&b));
    let (need_a, need_b) = operands_needed(op, ra, rb);
    let keep = |o: &Operand, needed: bool| match o {
        Operand::Tensor(x) if needed => SavedOperand::T(Saved::input(x)),
        Operand::Tensor(_) => SavedOperand::S(Scalar::Float(0.0)),
        Operand::Scalar(s) => SavedOperand::S(*s),
    };
    let (sa, sb) = (keep(&a, need_a), keep(&b, need_b));
    let out = matches!(op, BinaryOp::Pow | BinaryOp::Hypot | BinaryOp::Copysign).then(|| Saved::output(out, node, 0));
    Box::new(move |g: Grads| {
        let g = g.into_iter().next().flatten().expect("one output");
        let (a, b) = (sa.get()?, sb.get()?);
        // Gradients only for the operands that want one (`None` for the others).
        let (ga, gb) = binary_grads(op, &g, a, b, &out, ra, rb)?;
        let mut res = Vec::with_capacity(2);
        if wa {
            res.push(ga);
        }
        if wb {
            res.push(gb);
        }
        Ok(res)
    })
}

/// Which operands `binary_grads` reads, given which ones want a gradient.
fn operands_needed(op: BinaryOp, ga: bool, gb: bool) -> (bool, bool) {
    use BinaryOp::*;
    match op {
        Add | Sub => (false, false),
        Mul => (gb, ga),
        Div => (gb, ga || gb),
        Rem => (gb, gb),
        Copysign => (ga, false),
        _ => (true, true),
    }
}

enum SavedOperand {
    T(Saved),
    S(Scalar),
}

impl SavedOperand {
    fn get(&self) -> Result<Operand> {
        Ok(match self {
            SavedOperand::T(s) => Operand::Tensor(s.get()?),
            SavedOperand::S(s) => Operand::Scalar(*s),
        })
    }
}

fn neg(g: &Tensor) -> Result<Tensor> {
    un(UnaryOp::Neg, g)
}

#[allow(clippy::too_many_arguments)]
fn binary_grads(
    op: BinaryOp,
    g: &Tensor,
    a: Operand,
    b: Operand,
    out: &Option<Saved>,
    wa: bool,
    wb: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    use BinaryOp::*;
    let out_value = || out.as_ref().expect("saved for this op").get();
    let some = |x: Result<Tensor>| x.map(Some);
    let gm = |o: Operand| bin(Mul, t(g), o);
    Ok(match op {
        Add => (wa.then(|| g.clone()), wb.then(|| g.clone())),
        Sub => (wa.then(|| g.clone()), if wb { some(neg(g))? } else { None }),
        Mul => (if wa { some(gm(b.clone()))? } else { None }, if wb { some(gm(a.clone()))? } else { None }),
        Div => {
            let ga = if wa { some(bin(Div, t(g), b.clone()))? } else { None };
            // d(a/b)/db = -a / b^2
            let gb = if wb {
                let bb = bin(Mul, b.clone(), b.clone())?;
                some(neg(&div(&bin(Mul, t(g), a.clone())?, &bb)?))?
            } else {
                None
            };
            (ga, gb)
        }
        Pow => {
            // d/da = b * a^(b-1) (0 where b == 0); d/db = a^b * log(a) (0 where a == 0 and b >= 0).
            let ga = if wa {
                let bm1 = bin(Sub, b.clone(), c(1.0))?;
                let d = bin(Mul, b.clone(), t(&bin(Pow, a.clone(), t(&bm1))?))?;
                let d = masked(&d, &cmp(Ne, b.clone(), c(0.0))?)?;
                some(mul(g, &d))?
            } else {
                None
            };
            let gb = if wb {
                let r = out_value()?;
                let d = mul(&r, &un(UnaryOp::Log, &as_tensor(&a, &r)?)?)?;
                let zero_base = cmp(Eq, a.clone(), c(0.0))?;
                let bad = cmp(LogicalAnd, t(&zero_base), t(&cmp(Ge, b.clone(), c(0.0))?))?;
                let ok = ew::unary(UnaryOp::LogicalNot, &bad, None)?;
                some(mul(g, &masked(&d, &ok)?))?
            } else {
                None
            };
            (ga, gb)
        }
        Maximum | Minimum => {
            // The larger (smaller) operand takes the gradient; ties split it evenly.
            let win = if op == Maximum { Gt } else { Lt };
            let wins_a = crate::ops::copy::astype(&cmp(win, a.clone(), b.clone())?, g.dtype())?;
            let ties = crate::ops::copy::astype(&cmp(Eq, a.clone(), b.clone())?, g.dtype())?;
            let share = bin(Add, t(&wins_a), t(&bin(Mul, t(&ties), c(0.5))?))?;
            let ga = if wa { some(mul(g, &share))? } else { None };
            let gb = if wb { some(mul(g, &bin(Sub, c(1.0), t(&share))?))? } else { None };
            (ga, gb)
        }
        Atan2 => {
            let den = bin(Add, t(&bin(Mul, a.clone(), a.clone())?), t(&bin(Mul, b.clone(), b.clone())?))?;
            let ga = if wa { some(div(&gm(b.clone())?, &den))? } else { None };
            let gb = if wb { some(neg(&div(&gm(a.clone())?, &den)?))? } else { None };
            (ga, gb)
        }
        Hypot => {
            let r = out_value()?;
            let ga = if wa { some(div(&gm(a.clone())?, &r))? } else { None };
            let gb = if wb { some(div(&gm(b.clone())?, &r))? } else { None };
            (ga, gb)
        }
        Logaddexp => {
            let d = bin(Sub, a.clone(), b.clone())?;
            let ga = if wa { some(mul(g, &un(UnaryOp::Sigmoid, &d)?))? } else { None };
            let gb = if wb { some(mul(g, &un(UnaryOp::Sigmoid, &neg(&d)?)?))? } else { None };
            (ga, gb)
        }
        Copysign => {
            // d/da copysign(a, b) = sign(a) * sign-of-b = out / a (0 where a == 0).
            let ga = if wa {
                let r = out_value()?;
                let q = div(&r, &as_tensor(&a, &r)?)?;
                some(masked(&mul(g, &q)?, &cmp(Ne, a.clone(), c(0.0))?))?
            } else {
                None
            };
            (ga, if wb { some(scale(g, 0.0))? } else { None })
        }
        Rem => {
            let ga = if wa { Some(g.clone()) } else { None };
            let gb = if wb {
                let q = ew::binary(FloorDiv, a.clone(), b.clone(), None)?;
                some(neg(&mul(g, &q)?))?
            } else {
                None
            };
            (ga, gb)
        }
        _ => bail!(Runtime, "{} has no derivative", op.name()),
    })
}

/// The operand as a tensor; a scalar takes `like`'s dtype and device.
fn as_tensor(o: &Operand, like: &Tensor) -> Result<Tensor> {
    match o {
        Operand::Tensor(x) => Ok(x.clone()),
        Operand::Scalar(s) => crate::ops::create::full_on(&[], *s, like.dtype(), like.device()),
    }
}

/// `op(x)`, recorded when `x` requires grad (`out` as in [`binary`]).
pub fn unary(op: UnaryOp, x: &Tensor, out: Option<&Tensor>) -> Result<Tensor> {
    let grad = mode::is_enabled() && (x.requires_grad() || out.is_some_and(|o| o.requires_grad()));
    if !grad {
        return ew::unary(op, x, out);
    }
    if let Some(o) = out {
        let old = inplace_target(o, Some(x), op.name())?;
        ew::unary(op, x, Some(o))?;
        if o.dtype().is_float() {
            rebase(o, super::node_name(op.name()), &[Some(&old)], |n| unary_backward(op, &old, o, n));
        }
        return Ok(o.clone());
    }
    let r = ew::unary(op, x, None)?;
    if r.dtype().is_float() && x.dtype().is_float() {
        record_with(super::node_name(op.name()), &[x], &[&r], |n| unary_backward(op, x, &r, n));
    }
    Ok(r)
}

fn unary_backward(op: UnaryOp, x: &Tensor, out: &Tensor, node: &Weak<Node>) -> BackwardFn {
    use UnaryOp::*;
    // Save only what the formula reads: the output for these, the input for the rest
    // (so `y = x.exp(); x += 1` stays legal, as in PyTorch, and x's memory is not held).
    let by_output = matches!(op, Sqrt | Rsqrt | Reciprocal | Exp | Exp2 | Expm1 | Tan | Tanh | Relu | Sigmoid);
    let by_nothing = matches!(op, Neg | Pos | Sign | Floor | Ceil | Trunc | Round);
    let x = (!by_output && !by_nothing).then(|| Saved::input(x));
    let out = (by_output || matches!(op, Elu(_))).then(|| Saved::output(out, node, 0));
    Box::new(move |g: Grads| {
        let g = g.into_iter().next().flatten().expect("one output");
        Ok(vec![Some(unary_grad(op, &g, &x, &out)?)])
    })
}

fn unary_grad(op: UnaryOp, g: &Tensor, x: &Option<Saved>, out: &Option<Saved>) -> Result<Tensor> {
    use std::f64::consts::{FRAC_2_SQRT_PI, LN_10, LN_2, SQRT_2};
    use UnaryOp::*;
    let x = || x.as_ref().expect("input saved for this op").get();
    let y = || out.as_ref().expect("output saved for this op").get();
    let sq = |v: &Tensor| mul(v, v);
    match op {
        Neg => neg(g),
        Pos => Ok(g.clone()),
        Abs => mul(g, &un(Sign, &x()?)?),
        Sign | Floor | Ceil | Trunc | Round => scale(g, 0.0),
        Square => mul(g, &scale(&x()?, 2.0)?),
        Sqrt => div(&scale(g, 0.5)?, &y()?),
        Rsqrt => {
            let r = y()?;
            mul(&scale(g, -0.5)?, &mul(&r, &sq(&r)?)?)
        }
        Reciprocal => neg(&mul(g, &sq(&y()?)?)?),
        Exp => mul(g, &y()?),
        Exp2 => mul(g, &scale(&y()?, LN_2)?),
        Expm1 => mul(g, &shift(&y()?, 1.0)?),
        Log => div(g, &x()?),
        Log1p => div(g, &shift(&x()?, 1.0)?),
        Log2 => div(g, &scale(&x()?, LN_2)?),
        Log10 => div(g, &scale(&x()?, LN_10)?),
        Sin => mul(g, &un(Cos, &x()?)?),
        Cos => neg(&mul(g, &un(Sin, &x()?)?)?),
        Tan => mul(g, &shift(&sq(&y()?)?, 1.0)?),
        Asin => mul(g, &un(Rsqrt, &bin(BinaryOp::Sub, c(1.0), t(&sq(&x()?)?))?)?),
        Acos => neg(&mul(g, &un(Rsqrt, &bin(BinaryOp::Sub, c(1.0), t(&sq(&x()?)?))?)?)?),
        Atan => div(g, &shift(&sq(&x()?)?, 1.0)?),
        Sinh => mul(g, &un(Cosh, &x()?)?),
        Cosh => mul(g, &un(Sinh, &x()?)?),
        Tanh => mul(g, &bin(BinaryOp::Sub, c(1.0), t(&sq(&y()?)?))?),
        Asinh => mul(g, &un(Rsqrt, &shift(&sq(&x()?)?, 1.0)?)?),
        Acosh => mul(g, &un(Rsqrt, &shift(&sq(&x()?)?, -1.0)?)?),
        Atanh => div(g, &bin(BinaryOp::Sub, c(1.0), t(&sq(&x()?)?))?),
        Erf => {
            let xv = x()?;
            mul(g, &scale(&un(Exp, &neg(&sq(&xv)?)?)?, FRAC_2_SQRT_PI)?)
        }
        Relu => masked(g, &cmp(BinaryOp::Gt, t(&y()?), c(0.0))?),
        Sigmoid => {
            let s = y()?;
            mul(g, &mul(&s, &bin(BinaryOp::Sub, c(1.0), t(&s))?)?)
        }
        Softplus => mul(g, &un(Sigmoid, &x()?)?),
        Gelu => {
            // Phi(x) + x * phi(x)
            let xv = x()?;
            let cdf = scale(&shift(&un(Erf, &scale(&xv, 1.0 / SQRT_2)?)?, 1.0)?, 0.5)?;
            let pdf = scale(&un(Exp, &scale(&sq(&xv)?, -0.5)?)?, 0.5 * FRAC_2_SQRT_PI / SQRT_2)?;
            mul(g, &add(&cdf, &mul(&xv, &pdf)?)?)
        }
        GeluTanh => {
            let xv = x()?;
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let x2 = sq(&xv)?;
            let u = scale(&mul(&xv, &shift(&scale(&x2, 0.044715)?, 1.0)?)?, k)?;
            let th = un(Tanh, &u)?;
            let du = scale(&shift(&scale(&x2, 3.0 * 0.044715)?, 1.0)?, k)?;
            let left = scale(&shift(&th, 1.0)?, 0.5)?;
            let sech2 = bin(BinaryOp::Sub, c(1.0), t(&sq(&th)?))?;
            let right = mul(&scale(&xv, 0.5)?, &mul(&sech2, &du)?)?;
            mul(g, &add(&left, &right)?)
        }
        Silu => {
            let xv = x()?;
            let s = un(Sigmoid, &xv)?;
            let inner = shift(&mul(&xv, &bin(BinaryOp::Sub, c(1.0), t(&s))?)?, 1.0)?;
            mul(g, &mul(&s, &inner)?)
        }
        LeakyRelu(alpha) => {
            let pos = cmp(BinaryOp::Gt, t(&x()?), c(0.0))?;
            select(&pos, t(g), t(&scale(g, alpha)?))
        }
        Elu(alpha) => {
            let pos = cmp(BinaryOp::Gt, t(&x()?), c(0.0))?;
            select(&pos, t(g), t(&mul(g, &shift(&y()?, alpha)?)?))
        }
        IsNan | IsInf | IsFinite | Signbit | LogicalNot | BitNot => bail!(Runtime, "{} has no derivative", op.name()),
    }
}

/// `where(cond, a, b)`; `cond` gets no gradient.
pub fn select(cond: &Tensor, a: Operand, b: Operand) -> Result<Tensor> {
    let r = ew::select(cond, a.clone(), b.clone())?;
    if r.dtype().is_float() && mode::is_enabled() && (rg(&a) || rg(&b)) {
        let ins: Vec<&Tensor> = [tensor_of(&a), tensor_of(&b)].into_iter().flatten().collect();
        let (wa, wb) = (tensor_of(&a).is_some(), tensor_of(&b).is_some());
        let cond = cond.clone();
        record_with("WhereBackward", &ins, &[&r], move |_| {
            Box::new(move |g: Grads| {
                let g = g.into_iter().next().flatten().expect("one output");
                let mut res = Vec::new();
                if wa {
                    res.push(Some(select(&cond, t(&g), c(0.0))?));
                }
                if wb {
                    res.push(Some(select(&cond, c(0.0), t(&g))?));
                }
                Ok(res)
            })
        });
    }
    Ok(r)
}

/// `clip(x, lo, hi)` = `min(max(x, lo), hi)`, with PyTorch's clamp gradients: `x` gets
/// it where `lo <= x <= hi`; a tensor bound gets it where it is the one that applied
/// (`hi` wins where the bounds cross, `lo > hi`, since the result is `hi` there).
/// With `out` (`clamp_`), the clipped values are copied into `out` and recorded as such.
pub fn clip(x: &Tensor, lo: Option<Operand>, hi: Option<Operand>, out: Option<&Tensor>) -> Result<Tensor> {
    let any_rg = x.requires_grad() || lo.as_ref().is_some_and(rg) || hi.as_ref().is_some_and(rg);
    if !(mode::is_enabled() && (any_rg || out.is_some_and(|o| o.requires_grad()))) {
        return ew::clip(x, lo, hi, out);
    }
    if let Some(o) = out {
        super::check_inplace(o, "clip_")?;
        let r = clip(x, lo, hi, None)?;
        super::shape::copy_into(o, &r)?;
        return Ok(o.clone());
    }
    let r = ew::clip(x, lo.clone(), hi.clone(), None)?;
    if !r.dtype().is_float() {
        return Ok(r);
    }
    let below = match &lo {
        Some(l) => Some(cmp(BinaryOp::Lt, t(x), l.clone())?),
        None => None,
    };
    let above = match &hi {
        Some(h) => Some(cmp(BinaryOp::Gt, t(x), h.clone())?),
        None => None,
    };
    // Where the bounds cross, the result is `hi`: `lo` never applies, `hi` always does.
    let (lo_applies, hi_applies) = match (&lo, &hi, &below, &above) {
        (Some(l), Some(h), Some(b), Some(a)) => (
            Some(cmp(BinaryOp::LogicalAnd, t(b), t(&cmp(BinaryOp::Lt, l.clone(), h.clone())?))?),
            Some(cmp(BinaryOp::LogicalOr, t(a), t(&cmp(BinaryOp::Lt, h.clone(), l.clone())?))?),
        ),
        _ => (below.clone(), above.clone()),
    };
    let out_of_range = match (below, above) {
        (Some(b), Some(a)) => Some(cmp(BinaryOp::LogicalOr, t(&b), t(&a))?),
        (b, a) => b.or(a),
    };
    let mut ins = vec![x];
    let lo_t = lo.as_ref().and_then(tensor_of);
    let hi_t = hi.as_ref().and_then(tensor_of);
    ins.extend(lo_t);
    ins.extend(hi_t);
    let (has_lo, has_hi) = (lo_t.is_some(), hi_t.is_some());
    record_with("ClipBackward", &ins, &[&r], move |_| {
        Box::new(move |g: Grads| {
            let g = g.into_iter().next().flatten().expect("one output");
            let gx = match &out_of_range {
                Some(m) => select(m, c(0.0), t(&g))?,
                None => g.clone(),
            };
            let mut res = vec![Some(gx)];
            if has_lo {
                res.push(Some(masked(&g, lo_applies.as_ref().expect("lo given"))?));
            }
            if has_hi {
                res.push(Some(masked(&g, hi_applies.as_ref().expect("hi given"))?));
            }
            Ok(res)
        })
    });
    Ok(r)
}
