//! Differentiable ops: each runs the raw op from `crate::ops` and, when an input
//! requires grad and grad mode is on, records a node with its derivative formula.

pub mod elementwise;
pub mod image;
pub mod linalg;
pub mod loss;
pub mod norm;
mod norm_gpu;
pub mod reduce;
pub mod shape;

pub use elementwise::{add, binary, clip, div, mul, scale, select, sub, unary};
pub use shape::sum_to;

use std::borrow::Cow;
use std::sync::Weak;

use crate::autograd::graph::{record_node, set_history, BackwardFn, Node};
use crate::autograd::mode;
use crate::bail;
use crate::core::{Result, Tensor};

/// A node's name from an op's name, PyTorch-style: `multiply` -> `MulBackward`,
/// `leaky_relu` -> `LeakyReluBackward`.
pub(crate) fn node_name(op: &str) -> String {
    let short = match op {
        "add" => "Add",
        "subtract" => "Sub",
        "multiply" => "Mul",
        "divide" => "Div",
        "negative" => "Neg",
        "positive" => "Pos",
        _ => "",
    };
    let mut name = String::with_capacity(op.len() + 8);
    if short.is_empty() {
        for part in op.split('_') {
            let mut cs = part.chars();
            if let Some(f) = cs.next() {
                name.extend(f.to_uppercase());
                name.push_str(cs.as_str());
            }
        }
    } else {
        name.push_str(short);
    }
    name.push_str("Backward");
    name
}

fn is_leaf(t: &Tensor) -> bool {
    t.autograd().as_ref().is_none_or(|m| m.grad_fn.is_none())
}

fn is_view(t: &Tensor) -> bool {
    t.autograd().as_ref().is_some_and(|m| m.is_view)
}

/// Refuses in-place writes autograd cannot follow (PyTorch's rules): into a leaf that
/// requires grad, and into a recorded view.
pub(crate) fn check_inplace(o: &Tensor, name: &str) -> Result<()> {
    if !mode::is_enabled() || !o.requires_grad() {
        return Ok(());
    }
    if is_leaf(o) {
        bail!(
            Runtime,
            "{name}: a leaf tensor that requires grad is being used in an in-place operation; \
             do it inside `with ferrograd.no_grad():` or use an out-of-place op"
        );
    }
    if is_view(o) {
        bail!(
            Runtime,
            "{name}: in-place operations on a view of a tensor that requires grad are not supported; \
             use an out-of-place op (or .clone() the view first)"
        );
    }
    Ok(())
}

/// A handle carrying `o`'s current history (none if it has none), for recording an op
/// that is about to overwrite `o`.
pub(crate) fn history_of(o: &Tensor) -> Tensor {
    let h = o.detach();
    if o.requires_grad() {
        let meta = o.autograd();
        if let Some(m) = meta.as_ref() {
            if let Some(f) = &m.grad_fn {
                set_history(&h, f, m.output_nr, false);
            }
        }
    }
    h
}

/// Checks an in-place op writing into `o` whose first operand is `first`, and returns a
/// copy of `o`'s current data carrying `o`'s history: the op's formula reads that, since
/// `o` itself is about to be overwritten.
pub(crate) fn inplace_target(o: &Tensor, first: Option<&Tensor>, name: &str) -> Result<Tensor> {
    if !first.is_some_and(|f| f.same(o)) {
        bail!(Runtime, "{name}: out= is not differentiable; call it without out= when an input requires grad");
    }
    check_inplace(o, name)?;
    let old = crate::ops::copy::contiguous_copy(o)?;
    if o.requires_grad() {
        let meta = o.autograd();
        if let Some(f) = meta.as_ref().and_then(|m| m.grad_fn.clone().map(|f| (f, m.output_nr))) {
            drop(meta);
            set_history(&old, &f.0, f.1, false);
        }
    }
    Ok(old)
}

/// Makes `o` (just overwritten in place) the output of a new node over `inputs`.
pub(crate) fn rebase(
    o: &Tensor,
    name: impl Into<Cow<'static, str>>,
    inputs: &[Option<&Tensor>],
    make: impl FnOnce(&Weak<Node>) -> BackwardFn,
) {
    let ins: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
    if ins.iter().any(|t| t.requires_grad()) {
        record_node(name, &ins, &[o], make, false);
    }
}
