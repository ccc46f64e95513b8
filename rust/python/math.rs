//! Operators and elementwise functions: `t + u`, `t += u`, `ferrograd._core._binary`...
//! Python scalars stay weak (they adopt the tensor's dtype); other inputs become tensors.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::convert::{scalar_of, to_tensor};
use super::errors::run;
use super::tensor::PyTensor;
use crate::autograd::func as ew;
use crate::core::Tensor;
use crate::ops::elementwise::Operand;
use crate::ops::table::{BinaryOp, UnaryOp};

/// A Python value as an operand; `None` when it is not tensor-like (-> NotImplemented).
fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Operand>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(Some(Operand::Tensor(t.get().t.clone())));
    }
    if let Some(s) = scalar_of(obj)? {
        return Ok(Some(Operand::Scalar(s)));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() || obj.hasattr("__array_interface__")? {
        return Ok(Some(Operand::Tensor(to_tensor(obj, None)?)));
    }
    Ok(None)
}

fn numel_of(o: &Operand) -> usize {
    match o {
        Operand::Tensor(t) => t.numel(),
        Operand::Scalar(_) => 1,
    }
}

pub fn binary_op(py: Python<'_>, op: BinaryOp, a: Operand, b: Operand, out: Option<Tensor>) -> PyResult<PyTensor> {
    let work = numel_of(&a).max(numel_of(&b));
    Ok(run(py, work, move || ew::binary(op, a, b, out.as_ref()))?.into())
}

/// `self <op> other` (or reflected) returning NotImplemented for foreign types.
fn dunder(slf: &PyTensor, other: &Bound<'_, PyAny>, op: BinaryOp, reflected: bool) -> PyResult<Py<PyAny>> {
    let py = other.py();
    let Some(o) = operand(other)? else { return Ok(py.NotImplemented()) };
    let me = Operand::Tensor(slf.t.clone());
    let (a, b) = if reflected { (o, me) } else { (me, o) };
    Ok(Bound::new(py, binary_op(py, op, a, b, None)?)?.into_any().unbind())
}

fn inplace(slf: &PyTensor, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<()> {
    let py = other.py();
    let Some(o) = operand(other)? else {
        return Err(PyTypeError::new_err(format!(
            "unsupported operand type for in-place {}: {}",
            op.name(),
            other.get_type().name()?
        )));
    };
    binary_op(py, op, Operand::Tensor(slf.t.clone()), o, Some(slf.t.clone()))?;
    Ok(())
}

macro_rules! binary_dunders {
    ($($fwd:ident, $rev:ident, $inp:ident => $op:ident;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $fwd(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                    dunder(self, other, BinaryOp::$op, false)
                }
                fn $rev(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                    dunder(self, other, BinaryOp::$op, true)
                }
                fn $inp(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
                    inplace(self, other, BinaryOp::$op)
                }
            )*
        }
    };
}

binary_dunders! {
    __add__, __radd__, __iadd__ => Add;
    __sub__, __rsub__, __isub__ => Sub;
    __mul__, __rmul__, __imul__ => Mul;
    __truediv__, __rtruediv__, __itruediv__ => Div;
    __floordiv__, __rfloordiv__, __ifloordiv__ => FloorDiv;
    __mod__, __rmod__, __imod__ => Rem;
    __and__, __rand__, __iand__ => BitAnd;
    __or__, __ror__, __ior__ => BitOr;
    __xor__, __rxor__, __ixor__ => BitXor;
    __lshift__, __rlshift__, __ilshift__ => Shl;
    __rshift__, __rrshift__, __irshift__ => Shr;
}

#[pymethods]
impl PyTensor {
    fn __pow__(&self, other: &Bound<'_, PyAny>, modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        if modulo.is_some_and(|m| !m.is_none()) {
            return Err(PyTypeError::new_err("pow() with a modulus is not supported for tensors"));
        }
        dunder(self, other, BinaryOp::Pow, false)
    }
    fn __rpow__(&self, other: &Bound<'_, PyAny>, modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        if modulo.is_some_and(|m| !m.is_none()) {
            return Err(PyTypeError::new_err("pow() with a modulus is not supported for tensors"));
        }
        dunder(self, other, BinaryOp::Pow, true)
    }
    fn __ipow__(&self, other: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        inplace(self, other, BinaryOp::Pow)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Eq, false)
    }
    fn __ne__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Ne, false)
    }
    fn __lt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Lt, false)
    }
    fn __le__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Le, false)
    }
    fn __gt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Gt, false)
    }
    fn __ge__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, other, BinaryOp::Ge, false)
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        unary_op(py, UnaryOp::Neg, &self.t, None)
    }
    fn __pos__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        unary_op(py, UnaryOp::Pos, &self.t, None)
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        unary_op(py, UnaryOp::Abs, &self.t, None)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let op = if self.t.dtype() == crate::core::DType::Bool { UnaryOp::LogicalNot } else { UnaryOp::BitNot };
        unary_op(py, op, &self.t, None)
    }
}

pub fn unary_op(py: Python<'_>, op: UnaryOp, x: &Tensor, out: Option<Tensor>) -> PyResult<PyTensor> {
    let x = x.clone();
    Ok(run(py, x.numel(), move || ew::unary(op, &x, out.as_ref()))?.into())
}

fn binary_by_name(name: &str) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match name {
        "add" => Add,
        "subtract" | "sub" => Sub,
        "multiply" | "mul" => Mul,
        "divide" | "div" | "true_divide" => Div,
        "floor_divide" => FloorDiv,
        "remainder" => Rem,
        "pow" => Pow,
        "maximum" => Maximum,
        "minimum" => Minimum,
        "atan2" | "arctan2" => Atan2,
        "hypot" => Hypot,
        "copysign" => Copysign,
        "nextafter" => Nextafter,
        "logaddexp" => Logaddexp,
        "equal" | "eq" => Eq,
        "not_equal" | "ne" => Ne,
        "less" | "lt" => Lt,
        "less_equal" | "le" => Le,
        "greater" | "gt" => Gt,
        "greater_equal" | "ge" => Ge,
        "logical_and" => LogicalAnd,
        "logical_or" => LogicalOr,
        "logical_xor" => LogicalXor,
        "bitwise_and" => BitAnd,
        "bitwise_or" => BitOr,
        "bitwise_xor" => BitXor,
        "bitwise_left_shift" => Shl,
        "bitwise_right_shift" => Shr,
        _ => return None,
    })
}

fn unary_by_name(name: &str, param: f64) -> Option<UnaryOp> {
    use UnaryOp::*;
    Some(match name {
        "negative" | "neg" => Neg,
        "positive" => Pos,
        "abs" | "absolute" => Abs,
        "sign" => Sign,
        "square" => Square,
        "sqrt" => Sqrt,
        "rsqrt" => Rsqrt,
        "reciprocal" => Reciprocal,
        "exp" => Exp,
        "exp2" => Exp2,
        "expm1" => Expm1,
        "log" => Log,
        "log1p" => Log1p,
        "log2" => Log2,
        "log10" => Log10,
        "sin" => Sin,
        "cos" => Cos,
        "tan" => Tan,
        "asin" | "arcsin" => Asin,
        "acos" | "arccos" => Acos,
        "atan" | "arctan" => Atan,
        "sinh" => Sinh,
        "cosh" => Cosh,
        "tanh" => Tanh,
        "asinh" | "arcsinh" => Asinh,
        "acosh" | "arccosh" => Acosh,
        "atanh" | "arctanh" => Atanh,
        "erf" => Erf,
        "floor" => Floor,
        "ceil" => Ceil,
        "trunc" => Trunc,
        "round" => Round,
        "isnan" => IsNan,
        "isinf" => IsInf,
        "isfinite" => IsFinite,
        "signbit" => Signbit,
        "logical_not" => LogicalNot,
        "bitwise_invert" | "bitwise_not" => BitNot,
        "relu" => Relu,
        "sigmoid" => Sigmoid,
        "softplus" => Softplus,
        "gelu" => Gelu,
        "gelu_tanh" => GeluTanh,
        "silu" => Silu,
        "leaky_relu" => LeakyRelu(param),
        "elu" => Elu(param),
        _ => return None,
    })
}

fn out_tensor(out: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Tensor>> {
    match out {
        Some(o) if !o.is_none() => Ok(Some(
            o.cast::<PyTensor>().map_err(|_| PyTypeError::new_err("out= must be a ferrograd.Tensor"))?.get().t.clone(),
        )),
        _ => Ok(None),
    }
}

fn required(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Operand> {
    operand(obj)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what}: expected a tensor, array or number, got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })
}

/// `_binary("add", x1, x2, out=None)`: the namespace functions' one entry point.
#[pyfunction]
#[pyo3(signature = (name, x1, x2, out=None))]
pub fn _binary(
    py: Python<'_>,
    name: &str,
    x1: &Bound<'_, PyAny>,
    x2: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let op = binary_by_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown binary op {name:?}")))?;
    binary_op(py, op, required(x1, name)?, required(x2, name)?, out_tensor(out)?)
}

#[pyfunction]
#[pyo3(signature = (name, x, out=None, param=0.0))]
pub fn _unary(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
    param: f64,
) -> PyResult<PyTensor> {
    let op = unary_by_name(name, param).ok_or_else(|| PyValueError::new_err(format!("unknown unary op {name:?}")))?;
    let t = to_tensor(x, None)?;
    unary_op(py, op, &t, out_tensor(out)?)
}

#[pyfunction]
#[pyo3(name = "where")]
pub fn where_(
    py: Python<'_>,
    condition: &Bound<'_, PyAny>,
    x1: &Bound<'_, PyAny>,
    x2: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let c = to_tensor(condition, None)?;
    let (a, b) = (required(x1, "where")?, required(x2, "where")?);
    Ok(run(py, c.numel(), move || ew::select(&c, a, b))?.into())
}

#[pyfunction]
#[pyo3(signature = (x, min=None, max=None, out=None))]
pub fn clip(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = to_tensor(x, None)?;
    let bound = |b: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Operand>> {
        match b {
            Some(v) if !v.is_none() => Ok(Some(required(v, "clip")?)),
            _ => Ok(None),
        }
    };
    let (lo, hi, out) = (bound(min)?, bound(max)?, out_tensor(out)?);
    Ok(run(py, t.numel(), move || ew::clip(&t, lo, hi, out.as_ref()))?.into())
}

fn matmul_impl(py: Python<'_>, a: Tensor, b: Tensor) -> PyResult<PyTensor> {
    let work = a.numel().max(b.numel());
    Ok(run(py, work, move || ew::linalg::matmul(&a, &b))?.into())
}

fn matmul_operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Tensor>> {
    Ok(match operand(obj)? {
        Some(Operand::Tensor(t)) => Some(t),
        _ => None,
    })
}

#[pymethods]
impl PyTensor {
    fn __matmul__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Some(o) = matmul_operand(other)? else { return Ok(py.NotImplemented()) };
        Ok(Bound::new(py, matmul_impl(py, self.t.clone(), o)?)?.into_any().unbind())
    }
    fn __rmatmul__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Some(o) = matmul_operand(other)? else { return Ok(py.NotImplemented()) };
        Ok(Bound::new(py, matmul_impl(py, o, self.t.clone())?)?.into_any().unbind())
    }
}

/// numpy's `matmul` (batched, broadcasting, 1-D promotion).
#[pyfunction]
pub fn matmul(py: Python<'_>, x1: &Bound<'_, PyAny>, x2: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    matmul_impl(py, to_tensor(x1, None)?, to_tensor(x2, None)?)
}
