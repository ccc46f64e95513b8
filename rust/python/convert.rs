//! Python values in, Python values out: scalars, shapes, and anything tensor-like.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple};
use pyo3::IntoPyObjectExt;

use super::dtype::default_float;
use super::tensor::PyTensor;
use crate::core::{DType, Scalar, Tensor};
use crate::ops::{copy::astype, create::full};

/// A Python bool, int or float as a [`Scalar`] (None for anything else).
pub fn scalar_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<Scalar>> {
    if obj.is_instance_of::<PyBool>() {
        return Ok(Some(Scalar::Bool(obj.extract()?)));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Some(Scalar::Int(i)));
        }
        return match obj.extract::<u64>() {
            Ok(u) => Ok(Some(Scalar::UInt(u))),
            Err(_) => Err(PyValueError::new_err(format!("integer {obj} does not fit in 64 bits"))),
        };
    }
    // Exactly `float`: numpy's float64 scalars subclass it but carry their own dtype.
    if obj.is_exact_instance_of::<PyFloat>() {
        return Ok(Some(Scalar::Float(obj.extract()?)));
    }
    Ok(None)
}

/// The dtype a Python scalar gets when nothing else decides it.
pub fn scalar_dtype(s: Scalar) -> DType {
    match s {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::UInt(_) => DType::U64,
        Scalar::Float(_) => default_float(),
    }
}

pub fn scalar_to_py(py: Python<'_>, s: Scalar) -> PyResult<Py<PyAny>> {
    match s {
        Scalar::Bool(b) => b.into_py_any(py),
        Scalar::Int(i) => i.into_py_any(py),
        Scalar::UInt(u) => u.into_py_any(py),
        Scalar::Float(f) => f.into_py_any(py),
    }
}

/// Shape arguments in either style: `f(2, 3)` or `f((2, 3))` / `f([2, 3])`.
pub fn dims_from_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() {
            return dims_of(&a);
        }
    }
    dims_of(args.as_any())
}

/// An int, or anything with `__index__` (numpy integers, 0-d integer tensors).
pub fn index_int(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map_err(|_| PyValueError::new_err(format!("integer {obj} does not fit in 64 bits")));
    }
    obj.call_method0(intern!(obj.py(), "__index__")).and_then(|v| v.extract::<i64>()).map_err(|_| {
        PyTypeError::new_err(format!(
            "expected an integer, got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })
}

/// An integer argument. PyO3's own conversion raises OverflowError for ints beyond 64
/// bits; ferrograd reports a ValueError (and accepts anything with `__index__`).
#[derive(Clone, Copy, Debug)]
pub struct Int(pub i64);

impl<'py> FromPyObject<'_, 'py> for Int {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        index_int(&obj).map(Int)
    }
}

/// A non-negative size argument.
#[derive(Clone, Copy, Debug)]
pub struct Size(pub usize);

impl<'py> FromPyObject<'_, 'py> for Size {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let v = index_int(&obj)?;
        usize::try_from(v)
            .map(Size)
            .map_err(|_| PyValueError::new_err(format!("expected a non-negative size, got {v}")))
    }
}

/// A random seed: an int in [-2**63, 2**64), as PyTorch accepts; negative seeds wrap.
pub fn seed_of(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(v) = index_int(obj) {
        return Ok(v as u64);
    }
    obj.extract::<u64>().map_err(|_| PyValueError::new_err(format!("seed {obj} is outside [-2**63, 2**64)")))
}

/// A sequence of ints (or a single int) as a list of i64.
pub fn dims_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    // Tuples and lists first: the generic sequence check is an isinstance against an ABC,
    // and a failed extraction builds an exception object.
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|x| index_int(&x)).collect();
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|x| index_int(&x)).collect();
    }
    if obj.is_instance_of::<PyInt>() || obj.hasattr(intern!(obj.py(), "__index__"))? {
        return Ok(vec![index_int(obj)?]);
    }
    let seq = obj.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a sequence of ints, got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    let mut out = Vec::with_capacity(seq.len()?);
    for item in seq.try_iter()? {
        out.push(index_int(&item?)?);
    }
    Ok(out)
}

/// Non-negative sizes (a shape to create).
pub fn shape_of(dims: &[i64]) -> PyResult<Vec<usize>> {
    dims.iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| PyValueError::new_err(format!("negative dimension {d} in shape {dims:?}")))
        })
        .collect()
}

/// Converts tensor-like input. Tensors and numpy arrays are shared, not copied, unless
/// `dtype` asks for a conversion; Python data is converted with PyTorch's defaults
/// (floats become the default float dtype, ints int64).
pub fn to_tensor(obj: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.get().t.clone();
        return match dtype {
            Some(d) if d != t.dtype() => Ok(astype(&t, d)?),
            _ => Ok(t),
        };
    }
    if let Some(s) = scalar_of(obj)? {
        return Ok(full(&[], s, dtype.unwrap_or_else(|| scalar_dtype(s)))?);
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let is_ndarray = obj.is_instance(&np.getattr("ndarray")?)?;
    let t = if is_ndarray || obj.hasattr("__array_interface__")? {
        super::interop::from_array_interface(obj)?
    } else if obj.hasattr("__dlpack__")? {
        super::dlpack::import(obj)?
    } else {
        let from_python = obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>();
        let arr = np.call_method1("asarray", (obj,))?;
        if arr.getattr("dtype")?.getattr("kind")?.extract::<String>()? == "O" {
            return Err(PyTypeError::new_err(format!(
                "cannot make a tensor from {}: the data is ragged or not numeric",
                obj.get_type().name()?
            )));
        }
        let t = super::interop::from_array_interface(&arr)?;
        if from_python && dtype.is_none() && t.dtype() == DType::F64 {
            astype(&t, default_float())?
        } else {
            t
        }
    };
    match dtype {
        Some(d) if d != t.dtype() => Ok(astype(&t, d)?),
        _ => Ok(t),
    }
}
