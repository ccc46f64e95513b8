//! `ferrograd.device` objects: "cpu", "gpu" (the default adapter) and "gpu:N". Naming a
//! GPU device is cheap; resolving it to a backend device (`backend()`) is the first GPU
//! use, which initialises wgpu (never before: CPU work never loads a GPU driver).

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::core::Device;

#[pyclass(name = "device", module = "ferrograd", frozen)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub kind: String,
    pub index: Option<u32>,
}

impl PyDevice {
    pub fn cpu() -> PyDevice {
        PyDevice { kind: "cpu".into(), index: None }
    }

    fn parse(s: &str) -> PyResult<PyDevice> {
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => {
                (k, Some(i.parse::<u32>().map_err(|_| PyValueError::new_err(format!("bad device index in {s:?}")))?))
            }
            None => (s, None),
        };
        match kind {
            "cpu" | "gpu" => Ok(PyDevice { kind: kind.into(), index }),
            _ => Err(PyValueError::new_err(format!("unknown device {s:?}: expected 'cpu', 'gpu' or 'gpu:N'"))),
        }
    }

    pub fn name(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{i}", self.kind),
            None => self.kind.clone(),
        }
    }

    pub fn from_backend(d: Device) -> PyDevice {
        match d {
            Device::Cpu => PyDevice::cpu(),
            Device::Gpu(i) => PyDevice { kind: "gpu".into(), index: Some(i) },
        }
    }

    /// The backend device (initialising the GPU on first use), or a RuntimeError that
    /// says why there is none.
    pub fn backend(&self) -> PyResult<Device> {
        match (self.kind.as_str(), self.index) {
            ("cpu", _) => Ok(Device::Cpu),
            (_, Some(i)) => {
                crate::gpu::check_index(i)?;
                Ok(Device::Gpu(i))
            }
            (_, None) => Ok(Device::Gpu(crate::gpu::default_index()?)),
        }
    }
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (spec, index=None))]
    fn new(spec: &Bound<'_, PyAny>, index: Option<u32>) -> PyResult<PyDevice> {
        let mut d = to_device(spec)?;
        if index.is_some() {
            d.index = index;
        }
        Ok(d)
    }
    #[getter]
    fn r#type(&self) -> String {
        self.kind.clone()
    }
    #[getter]
    fn index(&self) -> Option<u32> {
        self.index
    }
    fn __repr__(&self) -> String {
        format!("device(type='{}'{})", self.kind, self.index.map(|i| format!(", index={i}")).unwrap_or_default())
    }
    fn __str__(&self) -> String {
        self.name()
    }
    /// Hashes like its name, so `{device('cpu'): v}['cpu']` works.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        pyo3::types::PyString::new(py, &self.name()).hash()
    }
    /// Equal to another device or to its name as a string ("cpu").
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let eq = match to_device(other) {
            Ok(o) => o == *self,
            Err(_) => return Ok(py.NotImplemented()),
        };
        match op {
            pyo3::basic::CompareOp::Eq => Ok(eq.into_pyobject(py)?.to_owned().into_any().unbind()),
            pyo3::basic::CompareOp::Ne => Ok((!eq).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }
}

static DEFAULT_IS_GPU: AtomicBool = AtomicBool::new(false);

pub fn to_device(obj: &Bound<'_, PyAny>) -> PyResult<PyDevice> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return PyDevice::parse(&s.extract::<String>()?);
    }
    Err(PyTypeError::new_err(format!("expected a device or a device name, got {}", obj.get_type().name()?)))
}

/// The device a creation function uses: the argument, else the default.
pub fn device_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match obj {
        Some(o) if !o.is_none() => to_device(o)?.backend(),
        _ if DEFAULT_IS_GPU.load(Ordering::Relaxed) => PyDevice { kind: "gpu".into(), index: None }.backend(),
        _ => Ok(Device::Cpu),
    }
}

#[pyfunction]
pub fn set_default_device(d: &Bound<'_, PyAny>) -> PyResult<()> {
    let d = to_device(d)?;
    d.backend()?;
    DEFAULT_IS_GPU.store(d.kind == "gpu", Ordering::Relaxed);
    Ok(())
}

#[pyfunction]
pub fn get_default_device() -> PyDevice {
    if DEFAULT_IS_GPU.load(Ordering::Relaxed) {
        PyDevice { kind: "gpu".into(), index: None }
    } else {
        PyDevice::cpu()
    }
}
