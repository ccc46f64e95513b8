//! The one conversion from core errors to Python exceptions, and the helper that runs
//! long work without the GIL and turns a Rust panic into a RuntimeError.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyIndexError, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::core::Error;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Value(m) => PyValueError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Index(m) => PyIndexError::new_err(m),
            Error::OutOfMemory(m) => PyMemoryError::new_err(m),
            Error::Runtime(m) => PyRuntimeError::new_err(m),
        }
    }
}

thread_local! {
    /// A Python exception raised inside a callback that Rust called (a hook, a custom
    /// Function's backward): kept here so that the caller re-raises it unchanged.
    static PENDING: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Parks a Python exception raised in a callback and returns the core error that
/// carries it up through Rust.
pub fn stash(e: PyErr) -> Error {
    let msg = e.to_string();
    PENDING.with(|p| *p.borrow_mut() = Some(e));
    Error::Runtime(msg)
}

/// The Python exception for a core error: the parked one if a callback raised.
pub fn to_py(e: Error) -> PyErr {
    PENDING.with(|p| p.borrow_mut().take()).unwrap_or_else(|| PyErr::from(e))
}

/// Work below this many elements keeps the GIL: releasing it costs more than it saves.
const NOGIL_MIN: usize = 1 << 14;

/// Runs `f`, releasing the GIL when `work` (elements touched) is large, and reports a
/// panic as a RuntimeError instead of unwinding into Python.
pub fn run<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> crate::core::Result<T> + Send) -> PyResult<T> {
    let guarded = move || {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if msg == crate::core::GPU_TENSOR_ON_CPU_PATH {
                // A GPU tensor reached a CPU kernel of an op without a device check:
                // not a crash, just an op the GPU backend does not cover yet.
                return Err(Error::Runtime(msg));
            }
            Err(Error::Runtime(format!("internal error in ferrograd (please report): {msg}")))
        })
    };
    let out = if work >= NOGIL_MIN { py.detach(guarded) } else { guarded() };
    out.map_err(to_py)
}
