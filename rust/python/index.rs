//! Python index expressions (`t[0, 1:3, None, ..., idx]`) parsed into [`IndexItem`]s.

use pyo3::exceptions::PyIndexError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyInt, PyList, PyNone, PySlice, PyTuple};

use super::convert::to_tensor;
use super::tensor::PyTensor;
use crate::core::{DType, Tensor};
use crate::ops::IndexItem;

fn opt_int(obj: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if obj.is_none() {
        return Ok(None);
    }
    super::convert::index_int(obj)
        .map(Some)
        .map_err(|_| PyIndexError::new_err("slice indices must be integers or None"))
}

fn item(obj: &Bound<'_, PyAny>) -> PyResult<IndexItem> {
    if obj.is_instance_of::<PyNone>() {
        return Ok(IndexItem::NewAxis);
    }
    if obj.is_instance_of::<PyEllipsis>() {
        return Ok(IndexItem::Ellipsis);
    }
    if obj.is_instance_of::<PyBool>() {
        let b: bool = obj.extract()?;
        return Ok(IndexItem::Tensor(Tensor::from_vec(&[b], &[])?));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(IndexItem::Int(
            obj.extract().map_err(|_| PyIndexError::new_err(format!("index {obj} is out of range")))?,
        ));
    }
    if let Ok(s) = obj.cast::<PySlice>() {
        let py = obj.py();
        let step = opt_int(&s.getattr(intern!(py, "step"))?)?.unwrap_or(1);
        let (start, stop) = (s.getattr(intern!(py, "start"))?, s.getattr(intern!(py, "stop"))?);
        return Ok(IndexItem::Slice(opt_int(&start)?, opt_int(&stop)?, step));
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        return tensor_item(t.get().t.clone());
    }
    if obj.is_instance_of::<PyList>() || obj.hasattr("__array_interface__")? || obj.hasattr("__dlpack__")? {
        let mut t = to_tensor(obj, None)?;
        // numpy reads empty lists (however nested) as integer indices.
        if t.numel() == 0 && obj.is_instance_of::<PyList>() {
            t = crate::ops::copy::astype(&t, DType::I64)?;
        }
        return tensor_item(t);
    }
    if let Ok(i) = obj.call_method0("__index__") {
        return Ok(IndexItem::Int(i.extract()?));
    }
    Err(PyIndexError::new_err(format!(
        "only integers, slices, None, Ellipsis and integer or boolean tensors are valid indices, got {}",
        obj.get_type().name()?
    )))
}

fn tensor_item(t: Tensor) -> PyResult<IndexItem> {
    if t.dtype() != DType::Bool && !t.dtype().is_int() {
        return Err(PyIndexError::new_err(format!(
            "tensors used as indices must be integer or boolean, got {}",
            t.dtype()
        )));
    }
    Ok(IndexItem::Tensor(t))
}

pub fn parse(key: &Bound<'_, PyAny>) -> PyResult<Vec<IndexItem>> {
    if let Ok(t) = key.cast::<PyTuple>() {
        return t.iter().map(|k| item(&k)).collect();
    }
    Ok(vec![item(key)?])
}
