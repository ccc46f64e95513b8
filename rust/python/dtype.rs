//! `ferrograd.dtype` objects and the conversion of any dtype-like argument.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyType};

use crate::core::DType;

#[pyclass(name = "dtype", module = "ferrograd", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType(pub DType);

#[pymethods]
impl PyDType {
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.0.size()
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.0.is_float()
    }
    #[getter]
    fn is_signed(&self) -> bool {
        self.0.is_float() || self.0.is_signed_int()
    }
    fn __repr__(&self) -> String {
        format!("ferrograd.{}", self.0.name())
    }
    fn __str__(&self) -> String {
        self.__repr__()
    }
    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        Ok((py.import("ferrograd")?.getattr("_dtype_from_name")?.unbind(), (self.0.name().to_string(),)))
    }
}

pub use crate::core::default_float;

#[pyfunction]
pub fn set_default_dtype(d: &Bound<'_, PyAny>) -> PyResult<()> {
    let d = to_dtype(d)?;
    if !matches!(d, DType::F32 | DType::F64) {
        return Err(PyTypeError::new_err(format!("the default dtype must be float32 or float64, got {d}")));
    }
    crate::core::set_default_float(d);
    Ok(())
}

#[pyfunction]
pub fn get_default_dtype() -> PyDType {
    PyDType(default_float())
}

/// Any dtype-like: a ferrograd dtype, a name, a numpy dtype or scalar type, or the
/// Python types `bool`, `int` and `float`.
pub fn to_dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().0);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s: String = s.extract()?;
        let s = s.as_str();
        return DType::from_name(s).ok_or_else(|| PyTypeError::new_err(format!("unknown dtype {s:?}")));
    }
    if let Ok(t) = obj.cast::<PyType>() {
        if t.is(obj.py().get_type::<PyBool>()) {
            return Ok(DType::Bool);
        }
        if t.is(obj.py().get_type::<PyInt>()) {
            return Ok(DType::I64);
        }
        if t.is(obj.py().get_type::<PyFloat>()) {
            return Ok(default_float());
        }
    }
    // numpy dtypes and scalar types (np.float32, np.dtype('int16'), torch dtypes...).
    let name = obj
        .py()
        .import("numpy")
        .and_then(|np| np.call_method1("dtype", (obj,)))
        .and_then(|d| d.getattr("name"))
        .and_then(|n| n.extract::<String>())
        .or_else(|_| obj.str().map(|s| s.to_string().trim_start_matches("torch.").to_string()));
    match name {
        Ok(n) => {
            DType::from_name(&n).ok_or_else(|| PyTypeError::new_err(format!("ferrograd has no dtype matching {n:?}")))
        }
        Err(_) => Err(PyTypeError::new_err("expected a dtype")),
    }
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(to_dtype(o)?)),
        _ => Ok(None),
    }
}
