//! `ferrograd.gpu` and `ferrograd.synchronize`: adapter queries and the sync point.
//! Only these calls (and placing a tensor on a GPU) initialise wgpu.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Whether the extension was built with the wgpu backend.
#[pyfunction]
pub fn _gpu_compiled() -> bool {
    crate::gpu::COMPILED
}

#[pyfunction]
pub fn _gpu_is_available(py: Python<'_>) -> bool {
    py.detach(crate::gpu::is_available)
}

/// One dict per adapter: index, name, backend, type, driver, limits, features.
#[pyfunction]
pub fn _gpu_adapters(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let list = py.detach(crate::gpu::adapters)?;
    list.into_iter()
        .map(|a| {
            let d = PyDict::new(py);
            d.set_item("index", a.index)?;
            d.set_item("name", a.name)?;
            d.set_item("backend", a.backend)?;
            d.set_item("type", a.device_type)?;
            d.set_item("driver", a.driver)?;
            let limits = PyDict::new(py);
            for (k, v) in a.limits {
                limits.set_item(k, v)?;
            }
            d.set_item("limits", limits)?;
            d.set_item("features", a.features)?;
            Ok(d)
        })
        .collect()
}

/// Submits queued GPU work and waits for it to finish.
#[pyfunction]
pub fn synchronize(py: Python<'_>) -> PyResult<()> {
    Ok(py.detach(crate::gpu::synchronize)?)
}

/// Every WGSL text the backend can build, as (label, source, entry points): the shader
/// portability tests compile them with other WebGPU implementations.
#[pyfunction]
pub fn _gpu_shader_variants() -> Vec<(String, String, Vec<&'static str>)> {
    crate::gpu::variants()
}

/// Bytes of device memory the buffer pools hold for reuse.
#[pyfunction]
pub fn _gpu_memory_cached() -> u64 {
    crate::gpu::cached_bytes()
}

/// Releases pooled (unused) device buffers to the driver.
#[pyfunction]
pub fn _gpu_empty_cache() {
    crate::gpu::empty_cache()
}
