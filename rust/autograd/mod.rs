//! Reverse-mode automatic differentiation. Ops in `func` record a `graph::Node` on their
//! outputs when an input requires grad; `engine::run` walks those nodes backwards.
//! Everything PyTorch users touch (`requires_grad`, `.grad`, `backward`, hooks,
//! `retain_grad`) is a small function here over the tensor's `AutogradMeta`.

pub mod engine;
pub mod func;
pub mod graph;
pub mod mode;

use std::sync::Arc;

pub use graph::{AutogradMeta, Hook, Node};

use crate::bail;
use crate::core::{Result, Tensor};

/// `t.requires_grad_(flag)`: only leaves may change it, only float tensors may require it.
pub fn set_requires_grad(t: &Tensor, flag: bool) -> Result<()> {
    if flag && !t.dtype().is_float() {
        bail!(
            Runtime,
            "only tensors of floating point dtype can require gradients, got {} (convert with .float() first)",
            t.dtype()
        );
    }
    if !is_leaf(t) {
        if !flag {
            bail!(Runtime, "requires_grad can only be turned off on leaf tensors; use .detach() for a non-leaf");
        }
        return Ok(());
    }
    t.set_requires_grad_flag(flag);
    Ok(())
}

pub fn is_leaf(t: &Tensor) -> bool {
    t.autograd().as_ref().is_none_or(|m| m.grad_fn.is_none())
}

pub fn grad_fn(t: &Tensor) -> Option<Arc<Node>> {
    t.autograd().as_ref().and_then(|m| m.grad_fn.clone())
}

pub fn grad(t: &Tensor) -> Option<Tensor> {
    t.autograd().as_ref().and_then(|m| m.grad.clone())
}

/// Sets (or with `None` deletes) `t.grad`; the new gradient must match in shape.
pub fn set_grad(t: &Tensor, g: Option<Tensor>) -> Result<()> {
    if let Some(g) = &g {
        if g.shape() != t.shape() {
            bail!(Value, "assigned grad has shape {:?} but the tensor has shape {:?}", g.shape(), t.shape());
        }
        if g.dtype() != t.dtype() {
            bail!(Type, "assigned grad has dtype {} but the tensor has dtype {}", g.dtype(), t.dtype());
        }
    }
    let mut meta = t.autograd();
    if g.is_none() && meta.is_none() {
        return Ok(());
    }
    meta.get_or_insert_with(Default::default).grad = g;
    Ok(())
}

/// `t.register_hook(fn)`: runs on the gradient of `t` during backward.
pub fn register_hook(t: &Tensor, hook: Hook) -> Result<()> {
    if !t.requires_grad() {
        bail!(Runtime, "cannot register a hook on a tensor that does not require grad");
    }
    let mut meta = t.autograd();
    let m = meta.get_or_insert_with(Default::default);
    match &m.grad_fn {
        Some(f) => f.add_hook(m.output_nr, hook),
        None => m.hooks.push(hook),
    }
    Ok(())
}

/// `t.retain_grad()`: a non-leaf keeps its gradient in `.grad` after backward.
pub fn retain_grad(t: &Tensor) -> Result<()> {
    if !t.requires_grad() {
        bail!(Runtime, "can't retain_grad on a tensor that does not require grad");
    }
    if is_leaf(t) {
        return Ok(());
    }
    let weak = graph::WeakTensor::new(t);
    register_hook(
        t,
        Arc::new(move |g: &Tensor| {
            if let Some(t) = weak.get() {
                engine::accumulate_grad(&t, g.clone(), mode::is_enabled())?;
            }
            Ok(None)
        }),
    )
}

/// `t.backward(gradient)` / `autograd.backward`.
pub fn backward(outputs: &[Tensor], grads: &[Option<Tensor>], retain_graph: bool, create_graph: bool) -> Result<()> {
    let grads = default_grads(outputs, grads)?;
    engine::run(engine::Request { outputs, grads: &grads, retain_graph, create_graph, inputs: None })?;
    Ok(())
}

/// `autograd.grad`: gradients of `outputs` with respect to `inputs`.
pub fn grad_of(
    outputs: &[Tensor],
    inputs: &[Tensor],
    grads: &[Option<Tensor>],
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    for (i, t) in inputs.iter().enumerate() {
        if !t.requires_grad() {
            bail!(Runtime, "input {i} of autograd.grad does not require grad");
        }
    }
    let grads = default_grads(outputs, grads)?;
    let r = engine::run(engine::Request { outputs, grads: &grads, retain_graph, create_graph, inputs: Some(inputs) })?;
    if !allow_unused {
        if let Some(i) = r.iter().position(Option::is_none) {
            bail!(
                Runtime,
                "input {i} of autograd.grad was not used to compute the outputs; pass allow_unused=True if that is intended"
            );
        }
    }
    Ok(r)
}

/// Fills in `ones` for scalar outputs; non-scalar outputs need an explicit gradient.
fn default_grads(outputs: &[Tensor], grads: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
    if grads.len() != outputs.len() {
        bail!(Value, "got {} gradients for {} outputs", grads.len(), outputs.len());
    }
    outputs
        .iter()
        .zip(grads)
        .map(|(t, g)| match g {
            Some(g) => {
                if g.shape() != t.shape() {
                    bail!(
                        Runtime,
                        "gradient of shape {:?} does not match the output's shape {:?}",
                        g.shape(),
                        t.shape()
                    );
                }
                Ok(g.clone())
            }
            None => {
                if t.numel() != 1 {
                    bail!(
                        Runtime,
                        "grad can be implicitly created only for scalar outputs; pass gradient= for an output of shape {:?}",
                        t.shape()
                    );
                }
                crate::ops::create::full_on(t.shape(), crate::core::Scalar::Float(1.0), t.dtype(), t.device())
            }
        })
        .collect()
}
