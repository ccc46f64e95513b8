//! Random generators: a process-wide default (reseeded by `manual_seed`) and
//! `ferrograd.Generator` objects for independent, reproducible streams.

use std::sync::Mutex;

use pyo3::prelude::*;

use crate::cpu::random::Generator;

/// PyTorch's default seed, so an unseeded program is still reproducible.
const DEFAULT_SEED: u64 = 67280421310721;

static DEFAULT: Mutex<Generator> = Mutex::new(Generator { seed: DEFAULT_SEED, offset: 0 });

#[pyclass(name = "Generator", module = "ferrograd")]
pub struct PyGenerator {
    pub g: Generator,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        super::device::device_arg(device)?;
        Ok(PyGenerator { g: Generator::new(DEFAULT_SEED) })
    }
    fn manual_seed<'py>(mut slf: PyRefMut<'py, Self>, seed: &Bound<'py, PyAny>) -> PyResult<PyRefMut<'py, Self>> {
        slf.g = Generator::new(super::convert::seed_of(seed)?);
        Ok(slf)
    }
    fn initial_seed(&self) -> u64 {
        self.g.seed
    }
    fn get_state(&self) -> (u64, u64) {
        (self.g.seed, self.g.offset)
    }
    fn set_state(&mut self, state: (u64, u64)) {
        self.g = Generator { seed: state.0, offset: state.1 };
    }
}

/// Seeds the default generator: every random function becomes reproducible.
#[pyfunction]
pub fn manual_seed(seed: &Bound<'_, PyAny>) -> PyResult<()> {
    *DEFAULT.lock().unwrap_or_else(|p| p.into_inner()) = Generator::new(super::convert::seed_of(seed)?);
    Ok(())
}

#[pyfunction]
pub fn initial_seed() -> u64 {
    DEFAULT.lock().unwrap_or_else(|p| p.into_inner()).seed
}

/// Runs `f` with the given generator, or the default one.
pub fn with_generator<T>(gen: Option<&Bound<'_, PyGenerator>>, f: impl FnOnce(&mut Generator) -> T) -> T {
    match gen {
        Some(g) => f(&mut g.borrow_mut().g),
        None => f(&mut DEFAULT.lock().unwrap_or_else(|p| p.into_inner())),
    }
}
