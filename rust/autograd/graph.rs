//! The graph: a node per recorded op, holding its backward closure and an edge per
//! differentiable input. Tensors point at the node that made them; nodes point only
//! upstream (at earlier nodes and at leaves), so a graph lives exactly as long as some
//! tensor can still reach it and is freed with it — there is no global tape.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::bail;
use crate::core::{DType, Result, Tensor, TensorImpl};

/// Gradients per output (going into a backward closure) or per input (coming out).
pub type Grads = Vec<Option<Tensor>>;

/// A node's backward: output gradients in, input gradients out (one per edge, `None`
/// where an input gets no gradient). Formulas are written with the differentiable ops
/// of `autograd::ops`, so with `create_graph` the backward pass records a graph too.
pub type BackwardFn = Box<dyn FnMut(Grads) -> Result<Grads> + Send>;

/// A tensor hook: sees a gradient and may replace it.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// Autograd's record on a tensor.
#[derive(Default)]
pub struct AutogradMeta {
    /// Accumulated gradient (leaves, and non-leaves that called `retain_grad`).
    pub grad: Option<Tensor>,
    /// The node that produced this tensor; `None` for leaves.
    pub grad_fn: Option<Arc<Node>>,
    /// Which output of `grad_fn` this tensor is.
    pub output_nr: usize,
    /// Set on views made by a recorded view op: writing into them in place is refused.
    pub is_view: bool,
    /// For such a view: the tensor it views (the first non-view one) and that tensor's
    /// history when the view was made, to notice an in-place write to the base since.
    pub view_of: Option<ViewOrigin>,
    /// Hooks on a leaf's gradient (non-leaf hooks live on the node's output slot).
    pub hooks: Vec<Hook>,
}

/// A view's base and the base's `grad_fn` at the time the view was taken.
#[derive(Clone)]
pub struct ViewOrigin {
    base: WeakTensor,
    base_fn: Option<Weak<Node>>,
}

impl ViewOrigin {
    fn of(input: &Tensor) -> ViewOrigin {
        let meta = input.autograd();
        match meta.as_ref() {
            Some(m) if m.view_of.is_some() => m.view_of.clone().expect("checked"),
            m => ViewOrigin {
                base: WeakTensor::new(input),
                base_fn: m.and_then(|m| m.grad_fn.as_ref().map(Arc::downgrade)),
            },
        }
    }

    /// Whether the base has been given new history (an in-place op recorded on it) since.
    fn is_stale(&self) -> bool {
        let Some(base) = self.base.get() else { return false };
        let meta = base.autograd();
        let now = meta.as_ref().and_then(|m| m.grad_fn.as_ref());
        match (now, &self.base_fn) {
            (None, None) => false,
            (Some(a), Some(b)) => !std::ptr::eq(Arc::as_ptr(a), b.as_ptr()),
            _ => true,
        }
    }
}

/// Where an input's gradient goes.
pub enum Edge {
    /// The input needs no gradient.
    None,
    /// Output `.1` of an earlier node.
    Node(Arc<Node>, usize),
    /// A leaf tensor: its gradient accumulates into `.grad`.
    Leaf(Tensor),
}

/// Shape and dtype of a tensor at record time: the engine reduces broadcast gradients
/// to the input's shape, casts them to its dtype, and zero-fills missing outputs.
#[derive(Clone)]
pub struct Sig {
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Where zero-filled gradients are created (a GPU output's stay on its GPU).
    pub device: crate::core::Device,
}

impl Sig {
    pub fn of(t: &Tensor) -> Sig {
        Sig { shape: t.shape().to_vec(), dtype: t.dtype(), device: t.device() }
    }
}

pub struct Node {
    pub name: Cow<'static, str>,
    /// Creation order: the engine runs later nodes first.
    pub seq: u64,
    pub edges: Vec<Edge>,
    pub inputs: Vec<Sig>,
    pub outputs: Vec<Sig>,
    pub(crate) backward: Mutex<Option<BackwardFn>>,
    /// Hooks on output slots (`register_hook` on a non-leaf tensor).
    pub(crate) hooks: Mutex<Vec<(usize, Hook)>>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub fn add_hook(&self, slot: usize, hook: Hook) {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).push((slot, hook));
    }

    /// The nodes this one sends gradients to (for `grad_fn.next_functions`).
    pub fn next_nodes(&self) -> Vec<Option<(Arc<Node>, usize)>> {
        self.edges
            .iter()
            .map(|e| match e {
                Edge::Node(n, i) => Some((n.clone(), *i)),
                _ => None,
            })
            .collect()
    }
}

/// Whether an op on these inputs must be recorded.
#[inline]
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    super::mode::is_enabled() && inputs.iter().any(|t| t.requires_grad())
}

fn edge_of(t: &Tensor) -> Edge {
    if !t.requires_grad() {
        return Edge::None;
    }
    let (history, origin) = {
        let meta = t.autograd();
        let m = meta.as_ref();
        (m.and_then(|m| m.grad_fn.clone().map(|f| (f, m.output_nr))), m.and_then(|m| m.view_of.clone()))
    };
    if let Some(origin) = origin.filter(ViewOrigin::is_stale) {
        if refresh(t, &origin) {
            return edge_of(t);
        }
        return Edge::Node(stale_view(t), 0);
    }
    match history {
        Some((f, nr)) => Edge::Node(f, nr),
        None => Edge::Leaf(t.clone()),
    }
}

/// Rebuilds `t`'s history if it is a view whose base was given new history by an in-place
/// op since the view was taken; errors if that cannot be done (see [`stale_view`]).
pub(crate) fn check_fresh(t: &Tensor) -> Result<()> {
    let origin = t.autograd().as_ref().and_then(|m| m.view_of.clone());
    if let Some(origin) = origin.filter(ViewOrigin::is_stale) {
        if !refresh(t, &origin) {
            return Err(stale_error(t.shape()));
        }
    }
    Ok(())
}

/// Rebuilds a stale view's history from its base's current one; false if it cannot.
fn refresh(t: &Tensor, origin: &ViewOrigin) -> bool {
    origin.base.get().is_some_and(|base| super::func::shape::rebase_view(t, &base))
}

fn stale_error(shape: &[usize]) -> crate::core::Error {
    crate::core::Error::Runtime(format!(
        "a view (shape {shape:?}) was used after an in-place operation modified the tensor it views; autograd \
         cannot follow that: take the view after the in-place op, or .clone() it before"
    ))
}

/// The edge of a view used after an in-place op gave its base new history, when that
/// history cannot be rebuilt (a non-contiguous base): the view's own history predates
/// the write, so any gradient through it would be wrong. The error comes at backward, so
/// that a graph that never reaches this use still works.
fn stale_view(t: &Tensor) -> Arc<Node> {
    let shape = t.shape().to_vec();
    Arc::new(Node {
        name: "StaleViewBackward".into(),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        edges: Vec::new(),
        inputs: Vec::new(),
        outputs: vec![Sig::of(t)],
        backward: Mutex::new(Some(Box::new(move |_| Err(stale_error(&shape))))),
        hooks: Mutex::new(Vec::new()),
    })
}

/// Records a node: `outputs` (fresh tensors; only float ones) get it as `grad_fn`.
pub fn record(name: impl Into<Cow<'static, str>>, inputs: &[&Tensor], outputs: &[&Tensor], backward: BackwardFn) {
    record_node(name, inputs, outputs, |_| backward, false);
}

/// As [`record`] for formulas that need their own outputs: `make` receives the node (as
/// a weak link) to build [`Saved::output`]s with.
pub fn record_with(
    name: impl Into<Cow<'static, str>>,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    make: impl FnOnce(&Weak<Node>) -> BackwardFn,
) {
    record_node(name, inputs, outputs, make, false);
}

/// As [`record`], for view ops: the output is marked as a view.
pub fn record_view(name: impl Into<Cow<'static, str>>, input: &Tensor, output: &Tensor, backward: BackwardFn) {
    record_node(name, &[input], &[output], |_| backward, true);
}

pub(crate) fn record_node(
    name: impl Into<Cow<'static, str>>,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    make: impl FnOnce(&Weak<Node>) -> BackwardFn,
    is_view: bool,
) -> Arc<Node> {
    let origin = (is_view && inputs.len() == 1).then(|| ViewOrigin::of(inputs[0]));
    let node = Arc::new_cyclic(|me| Node {
        name: name.into(),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        edges: inputs.iter().map(|t| edge_of(t)).collect(),
        inputs: inputs.iter().map(|t| Sig::of(t)).collect(),
        outputs: outputs.iter().map(|t| Sig::of(t)).collect(),
        backward: Mutex::new(Some(make(me))),
        hooks: Mutex::new(Vec::new()),
    });
    for (i, out) in outputs.iter().enumerate() {
        if out.dtype().is_float() {
            set_history(out, &node, i, is_view);
            if let Some(o) = &origin {
                if let Some(m) = out.autograd().as_mut() {
                    m.view_of = Some(o.clone());
                }
            }
        }
    }
    node
}

/// Makes `t` output `nr` of `node`.
pub(crate) fn set_history(t: &Tensor, node: &Arc<Node>, nr: usize, is_view: bool) {
    let mut meta = t.autograd();
    let m = meta.get_or_insert_with(Default::default);
    m.grad_fn = Some(node.clone());
    m.output_nr = nr;
    m.is_view = is_view;
    m.view_of = None;
    drop(meta);
    t.set_requires_grad_flag(true);
}

/// A tensor saved for backward. Inputs are kept as they are; outputs are kept without
/// their history (a strong link back to the node would be a cycle) plus a weak link to
/// it, and re-attached when the backward pass is itself recorded.
pub struct Saved {
    data: Tensor,
    version: u64,
    output_of: Option<(Weak<Node>, usize)>,
}

impl Saved {
    pub fn input(t: &Tensor) -> Saved {
        Saved { data: t.clone(), version: t.version(), output_of: None }
    }

    /// Output `nr` of `node` (see [`record_with`]).
    pub fn output(t: &Tensor, node: &Weak<Node>, nr: usize) -> Saved {
        Saved { data: t.detach(), version: t.version(), output_of: Some((node.clone(), nr)) }
    }

    /// A constant (e.g. a mask): never differentiated, never checked.
    pub fn constant(t: Tensor) -> Saved {
        let version = t.version();
        Saved { data: t, version, output_of: None }
    }

    /// The saved tensor; errors if it was modified in place since it was saved.
    pub fn get(&self) -> Result<Tensor> {
        let now = self.data.version();
        if now != self.version {
            bail!(
                Runtime,
                "one of the tensors needed for gradient computation has been modified by an in-place operation: \
                 a tensor of shape {:?} is at version {now}, expected version {}. Use an out-of-place op \
                 (e.g. x = x + 1 instead of x += 1) on tensors that the graph still needs",
                self.data.shape(),
                self.version
            );
        }
        if let Some((node, nr)) = &self.output_of {
            if super::mode::is_enabled() {
                if let Some(node) = node.upgrade() {
                    let t = self.data.detach();
                    set_history(&t, &node, *nr, false);
                    return Ok(t);
                }
            }
        }
        Ok(self.data.clone())
    }
}

/// A weak handle to a tensor, for `retain_grad` (the graph must not keep it alive).
#[derive(Clone)]
pub struct WeakTensor(Weak<TensorImpl>);

impl WeakTensor {
    pub fn new(t: &Tensor) -> WeakTensor {
        WeakTensor(t.downgrade())
    }
    pub fn get(&self) -> Option<Tensor> {
        Tensor::upgrade(&self.0)
    }
}
