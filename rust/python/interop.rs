//! Zero-copy exchange with numpy through the array interface protocol (no numpy C API,
//! so the extension stays on the stable ABI): numpy arrays become tensors that borrow
//! their memory, and tensors expose `__array_interface__` so `np.asarray(t)` borrows back.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::core::{CpuBuffer, DType, Layout, Storage, Strides, Tensor};

/// Builds a tensor over memory owned by `owner`, given byte strides.
///
/// # Safety
/// `ptr` must address the element at index (0, ..., 0) of an allocation that `owner`
/// keeps alive and that holds every element reachable with `shape`/`byte_strides`.
pub unsafe fn tensor_over(
    ptr: usize,
    shape: &[usize],
    byte_strides: Option<&[isize]>,
    dtype: DType,
    readonly: bool,
    owner: Box<dyn std::any::Any + Send + Sync>,
) -> Option<Tensor> {
    let size = dtype.size() as isize;
    let strides: Strides = match byte_strides {
        None => crate::core::layout::contiguous_strides(shape),
        Some(bs) => {
            if bs.len() != shape.len() || bs.iter().any(|s| s % size != 0) {
                return None;
            }
            bs.iter().map(|s| s / size).collect()
        }
    };
    if ptr % dtype.size() != 0 {
        return None;
    }
    let probe = Layout { shape: shape.into(), strides: strides.clone(), offset: 0 };
    let (lo, hi) = probe.span();
    let base = (ptr as isize + lo * size) as *mut u8;
    let buf = CpuBuffer::external(base, ((hi - lo) * size) as usize, readonly, owner);
    let layout = Layout { shape: shape.into(), strides, offset: (-lo) as usize };
    Some(Tensor::from_parts(Storage::Cpu(std::sync::Arc::new(buf)), layout, dtype))
}

/// A tensor sharing the memory of any object with `__array_interface__` (numpy arrays).
/// Arrays whose layout a tensor cannot express (misaligned, odd strides) are copied.
pub fn from_array_interface(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    interface_tensor(obj, true)
}

fn interface_tensor(obj: &Bound<'_, PyAny>, allow_copy: bool) -> PyResult<Tensor> {
    let ai = obj.getattr("__array_interface__")?;
    let ai = ai.cast::<PyDict>()?;
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        ai.get_item(k)?.ok_or_else(|| PyTypeError::new_err(format!("__array_interface__ lacks {k:?}")))
    };
    let typestr: String = get("typestr")?.extract()?;
    let dtype = DType::from_typestr(&typestr).ok_or_else(|| {
        let name = obj.getattr("dtype").map(|d| d.to_string()).unwrap_or(typestr.clone());
        PyTypeError::new_err(format!(
            "ferrograd cannot hold arrays of dtype {name}: convert it to a numeric or bool dtype first"
        ))
    })?;
    let shape: Vec<usize> = get("shape")?.extract()?;
    let strides: Option<Vec<isize>> = get("strides")?.extract()?;
    let (ptr, readonly): (usize, bool) = get("data")?.extract()?;
    if shape.iter().product::<usize>() == 0 {
        return Ok(Tensor::zeros(&shape, dtype)?);
    }
    // The interface dict is kept too: numpy scalars expose memory of a temporary array
    // that only the dict (its '__ref' entry) keeps alive.
    let owner: Box<dyn std::any::Any + Send + Sync> = Box::new((obj.clone().unbind(), ai.clone().unbind()));
    // SAFETY: the interface describes live memory that the owner keeps alive.
    match unsafe { tensor_over(ptr, &shape, strides.as_deref(), dtype, readonly, owner) } {
        Some(t) => Ok(t),
        None if allow_copy => {
            // Misaligned data or strides that are not whole elements: copy into fresh memory.
            let kw = pyo3::types::PyDict::new(obj.py());
            kw.set_item("copy", true)?;
            kw.set_item("order", "C")?;
            let copy = obj.py().import("numpy")?.getattr("array")?.call((obj,), Some(&kw))?;
            interface_tensor(&copy, false)
        }
        None => Err(PyTypeError::new_err("array memory is misaligned for its dtype")),
    }
}

/// The `__array_interface__` dict describing a CPU tensor's memory.
pub fn array_interface<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyDict>> {
    let typestr = t.dtype().typestr().ok_or_else(|| {
        PyTypeError::new_err(format!("numpy has no {} dtype: convert first, e.g. t.float().numpy()", t.dtype()))
    })?;
    let d = PyDict::new(py);
    d.set_item("shape", PyTuple::new(py, t.shape())?)?;
    d.set_item("typestr", typestr)?;
    d.set_item("data", (t.data_ptr() as usize, t.is_readonly()))?;
    let size = t.dtype().size() as isize;
    if t.is_contiguous() {
        d.set_item("strides", py.None())?;
    } else {
        d.set_item("strides", PyTuple::new(py, t.strides().iter().map(|s| s * size))?)?;
    }
    d.set_item("version", 3)?;
    Ok(d)
}
