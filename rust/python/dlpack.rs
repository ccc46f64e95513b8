//! DLPack: `__dlpack__` / `__dlpack_device__` and `from_dlpack`, legacy and versioned
//! (1.x) capsules, through the stable-ABI capsule functions only.

use std::ffi::{c_void, CStr};

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core::{DType, Tensor};

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

const KDL_CPU: i32 = 1;
const FLAG_READ_ONLY: u64 = 1;
const LEGACY: &CStr = c"dltensor";
const LEGACY_USED: &CStr = c"used_dltensor";
const VERSIONED: &CStr = c"dltensor_versioned";
const VERSIONED_USED: &CStr = c"used_dltensor_versioned";

fn dl_dtype(d: DType) -> DLDataType {
    use DType::*;
    let code = match d {
        Bool => 6,
        I8 | I16 | I32 | I64 => 0,
        U8 | U16 | U32 | U64 => 1,
        F16 | F32 | F64 => 2,
        BF16 => 4,
    };
    DLDataType { code, bits: (d.size() * 8) as u8, lanes: 1 }
}

fn from_dl_dtype(t: DLDataType) -> Option<DType> {
    use DType::*;
    if t.lanes != 1 {
        return None;
    }
    Some(match (t.code, t.bits) {
        (6, 8) => Bool,
        (0, 8) => I8,
        (0, 16) => I16,
        (0, 32) => I32,
        (0, 64) => I64,
        (1, 8) => U8,
        (1, 16) => U16,
        (1, 32) => U32,
        (1, 64) => U64,
        (2, 16) => F16,
        (2, 32) => F32,
        (2, 64) => F64,
        (4, 16) => BF16,
        _ => return None,
    })
}

/// What an exported capsule owns: a tensor handle (keeping storage alive) and the
/// shape/strides arrays the DLTensor points into.
struct Export {
    _tensor: Tensor,
    _shape: Vec<i64>,
    _strides: Vec<i64>,
}

fn dl_tensor(t: &Tensor, ctx: &mut Export) -> DLTensor {
    DLTensor {
        data: t.data_ptr() as *mut c_void,
        device: DLDevice { device_type: KDL_CPU, device_id: 0 },
        ndim: t.ndim() as i32,
        dtype: dl_dtype(t.dtype()),
        shape: ctx._shape.as_mut_ptr(),
        strides: ctx._strides.as_mut_ptr(),
        byte_offset: 0,
    }
}

unsafe extern "C" fn delete_legacy(m: *mut DLManagedTensor) {
    drop(Box::from_raw((*m).manager_ctx as *mut Export));
    drop(Box::from_raw(m));
}

unsafe extern "C" fn delete_versioned(m: *mut DLManagedTensorVersioned) {
    drop(Box::from_raw((*m).manager_ctx as *mut Export));
    drop(Box::from_raw(m));
}

/// Capsule destructors: free the export only if no consumer took it (renamed it).
unsafe extern "C" fn capsule_legacy(cap: *mut ffi::PyObject) {
    if ffi::PyCapsule_IsValid(cap, LEGACY.as_ptr()) == 1 {
        let m = ffi::PyCapsule_GetPointer(cap, LEGACY.as_ptr()) as *mut DLManagedTensor;
        delete_legacy(m);
    }
}

unsafe extern "C" fn capsule_versioned(cap: *mut ffi::PyObject) {
    if ffi::PyCapsule_IsValid(cap, VERSIONED.as_ptr()) == 1 {
        let m = ffi::PyCapsule_GetPointer(cap, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
        delete_versioned(m);
    }
}

/// Builds the capsule for `t` (already on the CPU).
pub fn export(py: Python<'_>, t: &Tensor, versioned: bool) -> PyResult<Py<PyAny>> {
    let ctx = Box::new(Export {
        _tensor: t.clone(),
        _shape: t.shape().iter().map(|&d| d as i64).collect(),
        _strides: t.strides().iter().map(|&s| s as i64).collect(),
    });
    let ctx = Box::into_raw(ctx);
    // SAFETY: ctx is a fresh, leaked box; the deleters reclaim it exactly once.
    unsafe {
        let dl = dl_tensor(t, &mut *ctx);
        let cap = if versioned {
            let m = Box::into_raw(Box::new(DLManagedTensorVersioned {
                version: DLPackVersion { major: 1, minor: 0 },
                manager_ctx: ctx as *mut c_void,
                deleter: Some(delete_versioned),
                flags: if t.is_readonly() { FLAG_READ_ONLY } else { 0 },
                dl_tensor: dl,
            }));
            ffi::PyCapsule_New(m as *mut c_void, VERSIONED.as_ptr(), Some(capsule_versioned))
        } else {
            let m = Box::into_raw(Box::new(DLManagedTensor {
                dl_tensor: dl,
                manager_ctx: ctx as *mut c_void,
                deleter: Some(delete_legacy),
            }));
            ffi::PyCapsule_New(m as *mut c_void, LEGACY.as_ptr(), Some(capsule_legacy))
        };
        Bound::from_owned_ptr_or_err(py, cap).map(|b| b.unbind())
    }
}

/// Calls the producer's deleter when the imported tensor's storage dies.
struct Import {
    managed: *mut c_void,
    versioned: bool,
}
unsafe impl Send for Import {}
unsafe impl Sync for Import {}

impl Drop for Import {
    fn drop(&mut self) {
        // Producers' deleters may touch Python objects: run them attached.
        Python::attach(|_| unsafe {
            if self.versioned {
                let m = self.managed as *mut DLManagedTensorVersioned;
                if let Some(d) = (*m).deleter {
                    d(m)
                }
            } else {
                let m = self.managed as *mut DLManagedTensor;
                if let Some(d) = (*m).deleter {
                    d(m)
                }
            }
        })
    }
}

/// `ferrograd.from_dlpack(x)`: a tensor sharing `x`'s memory.
pub fn import(x: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let py = x.py();
    if let Ok(dev) = x.call_method0("__dlpack_device__") {
        let (kind, _): (i32, i32) = dev.extract()?;
        if kind != KDL_CPU {
            return Err(PyRuntimeError::new_err(format!(
                "from_dlpack: the producer lives on DLPack device type {kind}; only CPU memory (type 1) can be shared"
            )));
        }
    }
    let kw = PyDict::new(py);
    kw.set_item("max_version", (1, 0))?;
    let cap = match x.call_method("__dlpack__", (), Some(&kw)) {
        Ok(c) => c,
        Err(e) if e.is_instance_of::<PyTypeError>(py) => x.call_method0("__dlpack__")?,
        Err(e) => return Err(e),
    };
    let raw = cap.as_ptr();
    // SAFETY: capsule validity is checked by name before its pointer is read.
    unsafe {
        let (versioned, dl, readonly, managed) = if ffi::PyCapsule_IsValid(raw, VERSIONED.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(raw, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
            if (*m).version.major > 1 {
                return Err(PyBufferError::new_err(format!(
                    "from_dlpack: unsupported DLPack version {}",
                    (*m).version.major
                )));
            }
            (true, &(*m).dl_tensor, (*m).flags & FLAG_READ_ONLY != 0, m as *mut c_void)
        } else if ffi::PyCapsule_IsValid(raw, LEGACY.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(raw, LEGACY.as_ptr()) as *mut DLManagedTensor;
            (false, &(*m).dl_tensor, false, m as *mut c_void)
        } else {
            return Err(PyValueError::new_err("from_dlpack: __dlpack__ did not return an unused DLPack capsule"));
        };
        if dl.device.device_type != KDL_CPU {
            return Err(PyRuntimeError::new_err("from_dlpack: only CPU memory can be shared"));
        }
        let dtype = from_dl_dtype(dl.dtype).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "from_dlpack: unsupported DLPack dtype (code {}, bits {}, lanes {})",
                dl.dtype.code, dl.dtype.bits, dl.dtype.lanes
            ))
        })?;
        let nd = dl.ndim.max(0) as usize;
        let shape: Vec<usize> = (0..nd).map(|i| *dl.shape.add(i) as usize).collect();
        let byte_strides: Option<Vec<isize>> = (!dl.strides.is_null())
            .then(|| (0..nd).map(|i| *dl.strides.add(i) as isize * dtype.size() as isize).collect());
        let ptr = dl.data as usize + dl.byte_offset as usize;
        // Claim the capsule so its destructor no longer frees the tensor; we own it now.
        ffi::PyCapsule_SetName(raw, if versioned { VERSIONED_USED.as_ptr() } else { LEGACY_USED.as_ptr() });
        let owner = Box::new(Import { managed, versioned });
        if shape.iter().product::<usize>() == 0 {
            drop(owner);
            return Ok(Tensor::zeros(&shape, dtype)?);
        }
        super::interop::tensor_over(ptr, &shape, byte_strides.as_deref(), dtype, readonly, owner)
            .ok_or_else(|| PyValueError::new_err("from_dlpack: misaligned data or strides"))
    }
}
