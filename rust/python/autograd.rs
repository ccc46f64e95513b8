//! Autograd for Python: `requires_grad`, `.grad`, `.grad_fn`, `backward`, hooks, grad
//! mode, and the bridge that lets a Python `autograd.Function` join the Rust graph.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::errors::{run, stash};
use super::tensor::PyTensor;
use crate::autograd::{self as ag, graph, mode, Node};
use crate::core::{Result, Tensor};

/// A recorded op (`t.grad_fn`): its name and the nodes it sends gradients to.
#[pyclass(name = "Node", module = "ferrograd.autograd", frozen)]
pub struct PyNode(Arc<Node>);

#[pymethods]
impl PyNode {
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Py<PyAny>> = self
            .0
            .next_nodes()
            .into_iter()
            .map(|n| match n {
                Some((n, i)) => (PyNode(n), i).into_pyobject(py).map(|t| t.into_any().unbind()),
                None => (py.None(), 0).into_pyobject(py).map(|t| t.into_any().unbind()),
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    fn __repr__(&self) -> String {
        format!("<{}>", self.0.name)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNode>().is_ok_and(|o| Arc::ptr_eq(&self.0, &o.get().0))
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.0) as isize
    }
}

fn tensor_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    Ok(obj
        .cast::<PyTensor>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a ferrograd.Tensor, got {}", type_name(obj))))?
        .get()
        .t
        .clone())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn opt_tensor(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<Tensor>> {
    if obj.is_none() {
        Ok(None)
    } else {
        tensor_arg(obj, what).map(Some)
    }
}

/// Calls a Python function of one tensor that may return a replacement tensor or None.
fn python_hook(f: Py<PyAny>) -> ag::Hook {
    Arc::new(move |g: &Tensor| -> Result<Option<Tensor>> {
        Python::attach(|py| {
            let r = f.call1(py, (PyTensor::from(g.clone()),)).map_err(stash)?;
            let r = r.bind(py);
            if r.is_none() {
                return Ok(None);
            }
            opt_tensor(r, "a hook's return value").map_err(stash)
        })
    })
}

#[pymethods]
impl PyTensor {
    #[getter]
    fn requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter(requires_grad)]
    fn set_requires_grad(&self, flag: bool) -> PyResult<()> {
        Ok(ag::set_requires_grad(&self.t, flag)?)
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_<'py>(slf: &Bound<'py, Self>, requires_grad: bool) -> PyResult<Bound<'py, Self>> {
        ag::set_requires_grad(&slf.get().t, requires_grad)?;
        Ok(slf.clone())
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        ag::is_leaf(&self.t)
    }
    #[getter]
    fn grad(&self) -> Option<PyTensor> {
        ag::grad(&self.t).map(PyTensor::from)
    }
    #[setter(grad)]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match g {
            Some(g) => opt_tensor(g, "grad")?,
            None => None,
        };
        Ok(ag::set_grad(&self.t, g)?)
    }
    /// `del t.grad`, as in PyTorch (the same as `t.grad = None`).
    #[deleter(grad)]
    fn delete_grad(&self) -> PyResult<()> {
        Ok(ag::set_grad(&self.t, None)?)
    }
    #[getter]
    fn grad_fn(&self) -> Option<PyNode> {
        ag::grad_fn(&self.t).map(PyNode)
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    /// Same data, no history (shares memory).
    fn detach(&self) -> PyTensor {
        self.t.detach().into()
    }
    fn retain_grad(&self) -> PyResult<()> {
        Ok(ag::retain_grad(&self.t)?)
    }
    fn register_hook(&self, hook: Py<PyAny>) -> PyResult<()> {
        Ok(ag::register_hook(&self.t, python_hook(hook))?)
    }
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if inputs.is_some_and(|i| !i.is_none()) {
            return Err(PyTypeError::new_err("backward(inputs=...) is not supported; use ferrograd.autograd.grad"));
        }
        let g = match gradient {
            Some(g) => opt_tensor(g, "gradient")?,
            None => None,
        };
        let t = self.t.clone();
        let retain = retain_graph.unwrap_or(create_graph);
        run(py, usize::MAX, move || ag::backward(&[t], &[g], retain, create_graph))
    }
}

fn tensors(seq: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|o| tensor_arg(&o?, what)).collect()
}

fn opt_tensors(seq: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Option<Tensor>>> {
    seq.try_iter()?.map(|o| opt_tensor(&o?, what)).collect()
}

/// `autograd.backward(tensors, grad_tensors, retain_graph, create_graph)`.
#[pyfunction]
pub fn _backward(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    retain_graph: bool,
    create_graph: bool,
) -> PyResult<()> {
    let (outs, gs) = (tensors(outputs, "tensors")?, opt_tensors(grads, "grad_tensors")?);
    run(py, usize::MAX, move || ag::backward(&outs, &gs, retain_graph, create_graph))
}

/// `autograd.grad(...)`: a list with a tensor or None per input.
#[pyfunction]
pub fn _grad<'py>(
    py: Python<'py>,
    outputs: &Bound<'py, PyAny>,
    inputs: &Bound<'py, PyAny>,
    grads: &Bound<'py, PyAny>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Bound<'py, PyList>> {
    let (outs, ins, gs) =
        (tensors(outputs, "outputs")?, tensors(inputs, "inputs")?, opt_tensors(grads, "grad_outputs")?);
    let r = run(py, usize::MAX, move || ag::grad_of(&outs, &ins, &gs, retain_graph, create_graph, allow_unused))?;
    PyList::new(py, r.into_iter().map(|g| g.map(PyTensor::from)))
}

#[pyfunction]
pub fn is_grad_enabled() -> bool {
    mode::is_enabled()
}

/// Sets grad mode for this thread; returns the previous mode.
#[pyfunction]
pub fn _set_grad_enabled(flag: bool) -> bool {
    mode::set_enabled(flag)
}

/// Joins a Python `autograd.Function` call to the graph: `outputs` (computed without
/// recording) become outputs of a node whose backward calls `backward(*grads)`, which
/// returns one gradient (or None) per entry of `inputs`.
#[pyfunction]
pub fn _record_function(
    name: String,
    inputs: &Bound<'_, PyAny>,
    outputs: &Bound<'_, PyAny>,
    backward: Py<PyAny>,
) -> PyResult<()> {
    let ins = tensors(inputs, "inputs")?;
    let outs = tensors(outputs, "outputs")?;
    let n_in = ins.len();
    let f: graph::BackwardFn = Box::new(move |grads: graph::Grads| {
        Python::attach(|py| {
            let args: Vec<Py<PyAny>> = grads
                .into_iter()
                .map(|g| match g {
                    Some(g) => Ok(Bound::new(py, PyTensor::from(g))?.into_any().unbind()),
                    None => Ok(py.None()),
                })
                .collect::<PyResult<_>>()
                .map_err(stash)?;
            let r = backward.call1(py, PyTuple::new(py, args).map_err(stash)?).map_err(stash)?;
            let r = r.bind(py);
            let items: Vec<Bound<'_, PyAny>> =
                if let Ok(t) = r.cast::<PyTuple>() { t.iter().collect() } else { vec![r.clone()] };
            if items.len() < n_in {
                return Err(stash(PyTypeError::new_err(format!(
                    "backward returned {} gradients, but forward had {n_in} tensor inputs",
                    items.len()
                ))));
            }
            items.iter().take(n_in).map(|o| opt_tensor(o, "a gradient returned by backward").map_err(stash)).collect()
        })
    });
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let out_refs: Vec<&Tensor> = outs.iter().collect();
    graph::record(name, &in_refs, &out_refs, f);
    Ok(())
}
