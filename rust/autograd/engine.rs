//! The backward pass: walks the graph from the outputs in reverse creation order
//! (every node runs once, after all its consumers have sent their gradients), calls each
//! node's formula and accumulates the results into leaves' `.grad` — or, for
//! `autograd.grad`, hands them back for the requested inputs only.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use super::func::{add, shape::astype, sum_to};
use super::graph::{Edge, Grads, Node, Sig};
use super::mode;
use crate::bail;
use crate::core::{Result, Scalar, Tensor};

pub struct Request<'a> {
    pub outputs: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub retain_graph: bool,
    pub create_graph: bool,
    /// `autograd.grad`: return gradients of these instead of accumulating into leaves.
    pub inputs: Option<&'a [Tensor]>,
}

const FREED: &str = "trying to backward through the graph a second time (or to use saved tensors after \
    they were freed): the graph's saved values are freed by backward() unless it is called with \
    retain_graph=True";

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn history(t: &Tensor) -> Option<(Arc<Node>, usize)> {
    let meta = t.autograd();
    meta.as_ref().and_then(|m| m.grad_fn.clone().map(|f| (f, m.output_nr)))
}

/// Sums `g` into `slot`.
fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(old) => add(&old, &g)?,
    });
    Ok(())
}

/// Brings a gradient to the shape and dtype its tensor had when recorded.
fn fit(g: Tensor, sig: &Sig, node: &str) -> Result<Tensor> {
    let g = if g.shape() != sig.shape.as_slice() {
        sum_to(&g, &sig.shape).map_err(|_| {
            crate::core::Error::Runtime(format!(
                "{node} returned a gradient of shape {:?} for an input of shape {:?}",
                g.shape(),
                sig.shape
            ))
        })?
    } else {
        g
    };
    if g.dtype() != sig.dtype && sig.dtype.is_float() {
        return astype(&g, sig.dtype);
    }
    Ok(g)
}

/// Runs a backward pass; returns the gradients of `req.inputs` (empty without them).
pub fn run(req: Request<'_>) -> Result<Vec<Option<Tensor>>> {
    let _mode = mode::Guard::new(req.create_graph);
    let capture = req.inputs;
    let mut captured: Vec<Option<Tensor>> = vec![None; capture.map_or(0, |c| c.len())];
    let capture_nodes: Vec<Option<(usize, usize)>> =
        capture.map(|c| c.iter().map(|t| history(t).map(|(n, nr)| (key(&n), nr))).collect()).unwrap_or_default();

    // Discover the graph and count, per node, the edges that lead into it.
    let mut nodes: HashMap<usize, Arc<Node>> = HashMap::new();
    let mut deps: HashMap<usize, usize> = HashMap::new();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for t in req.outputs {
        if let Some((n, _)) = history(t) {
            if nodes.insert(key(&n), n.clone()).is_none() {
                stack.push(n);
            }
        }
    }
    while let Some(n) = stack.pop() {
        for e in &n.edges {
            if let Edge::Node(m, _) = e {
                *deps.entry(key(m)).or_insert(0) += 1;
                if nodes.insert(key(m), m.clone()).is_none() {
                    stack.push(m.clone());
                }
            }
        }
    }

    // `autograd.grad` runs only the nodes on a path to a requested input, as PyTorch
    // does: other branches are neither computed nor freed (and may already be freed).
    // Children are older than their consumers, so one pass in creation order decides.
    let (reach, exec) = match capture {
        None => (None, None),
        Some(c) => {
            let mut order: Vec<&Arc<Node>> = nodes.values().collect();
            order.sort_by_key(|n| n.seq);
            let (mut reach, mut exec) = (HashSet::new(), HashSet::new());
            for n in order {
                let k = key(n);
                let runs = n.edges.iter().any(|e| match e {
                    Edge::Leaf(t) => c.iter().any(|x| x.same(t)),
                    Edge::Node(m, _) => reach.contains(&key(m)),
                    Edge::None => false,
                });
                if runs {
                    exec.insert(k);
                }
                if runs || capture_nodes.iter().flatten().any(|(ck, _)| *ck == k) {
                    reach.insert(k);
                }
            }
            (Some(reach), Some(exec))
        }
    };

    let mut buffers: HashMap<usize, Grads> = HashMap::new();
    let mut leaf = LeafSink { capture, captured: &mut captured, create_graph: req.create_graph };
    for (t, g) in req.outputs.iter().zip(req.grads) {
        if !t.requires_grad() {
            bail!(Runtime, "a tensor passed to backward does not require grad and has no grad_fn");
        }
        super::graph::check_fresh(t)?;
        match history(t) {
            Some((n, nr)) => {
                let buf = buffers.entry(key(&n)).or_insert_with(|| vec![None; n.outputs.len()]);
                accumulate(&mut buf[nr], g.clone())?;
            }
            None => leaf.deliver(t, g.clone())?,
        }
    }

    let mut ready: BinaryHeap<(u64, usize)> = BinaryHeap::new();
    for (k, n) in &nodes {
        if deps.get(k).copied().unwrap_or(0) == 0 {
            ready.push((n.seq, *k));
        }
    }
    while let Some((_, k)) = ready.pop() {
        let node = nodes[&k].clone();
        let mut grads = buffers.remove(&k).unwrap_or_else(|| vec![None; node.outputs.len()]);
        if reach.as_ref().is_some_and(|r| !r.contains(&k)) {
            grads.iter_mut().for_each(|g| *g = None);
        }
        // A copy: a hook may register another hook on this node (no lock held while it runs).
        let hooks = node.hooks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (slot, hook) in hooks.iter() {
            if let Some(g) = &grads[*slot] {
                if let Some(r) = hook(g)? {
                    grads[*slot] = Some(r);
                }
            }
        }
        for (i, c) in capture_nodes.iter().enumerate() {
            if let Some((ck, nr)) = c {
                if *ck == k {
                    if let Some(g) = &grads[*nr] {
                        accumulate(&mut leaf.captured[i], g.clone())?;
                    }
                }
            }
        }
        let results = if exec.as_ref().is_none_or(|e| e.contains(&k)) {
            call(&node, grads, req.retain_graph)?
        } else {
            vec![None; node.edges.len()]
        };
        if results.len() != node.edges.len() {
            bail!(Runtime, "{} returned {} gradients for {} inputs", node.name, results.len(), node.edges.len());
        }
        for ((edge, g), sig) in node.edges.iter().zip(results).zip(&node.inputs) {
            let g = match g {
                Some(g) => Some(fit(g, sig, &node.name)?),
                None => None,
            };
            match edge {
                Edge::None => {}
                Edge::Leaf(t) => {
                    if let Some(g) = g {
                        leaf.deliver(t, g)?;
                    }
                }
                Edge::Node(m, nr) => {
                    let mk = key(m);
                    if let Some(g) = g {
                        let buf = buffers.entry(mk).or_insert_with(|| vec![None; m.outputs.len()]);
                        accumulate(&mut buf[*nr], g)?;
                    }
                    let d = deps.get_mut(&mk).expect("counted in discovery");
                    *d -= 1;
                    if *d == 0 {
                        ready.push((m.seq, mk));
                    }
                }
            }
        }
    }
    Ok(captured)
}

/// Calls a node's formula (freeing it unless the graph is retained).
fn call(node: &Node, mut grads: Grads, retain: bool) -> Result<Grads> {
    let mut slot = node.backward.lock().unwrap_or_else(|e| e.into_inner());
    if grads.iter().all(Option::is_none) {
        if !retain {
            slot.take();
        }
        return Ok(vec![None; node.edges.len()]);
    }
    // Multi-output nodes see zeros for outputs no gradient reached, on the output's device.
    if grads.len() > 1 {
        for (g, sig) in grads.iter_mut().zip(&node.outputs) {
            if g.is_none() {
                *g = Some(crate::ops::create::full_on(&sig.shape, Scalar::Int(0), sig.dtype, sig.device)?);
            }
        }
    }
    if retain {
        let f = slot.as_mut().ok_or_else(|| crate::core::Error::Runtime(FREED.into()))?;
        f(grads)
    } else {
        let mut f = slot.take().ok_or_else(|| crate::core::Error::Runtime(FREED.into()))?;
        drop(slot);
        f(grads)
    }
}

/// Where gradients reaching a leaf go.
struct LeafSink<'a, 'b> {
    capture: Option<&'a [Tensor]>,
    captured: &'b mut Vec<Option<Tensor>>,
    create_graph: bool,
}

impl LeafSink<'_, '_> {
    fn deliver(&mut self, t: &Tensor, g: Tensor) -> Result<()> {
        if let Some(c) = self.capture {
            for (i, x) in c.iter().enumerate() {
                if x.same(t) {
                    accumulate(&mut self.captured[i], g.clone())?;
                }
            }
            return Ok(());
        }
        let hooks = t.autograd().as_ref().map(|m| m.hooks.clone()).unwrap_or_default();
        let mut g = g;
        for h in hooks {
            if let Some(r) = h(&g)? {
                g = r;
            }
        }
        let g = fit(g, &Sig::of(t), "backward")?;
        accumulate_grad(t, g, self.create_graph)
    }
}

/// Adds `g` to `t.grad`. Without `create_graph` the stored gradient carries no history
/// and never aliases memory that someone else holds.
pub fn accumulate_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let old = t.autograd().as_ref().and_then(|m| m.grad.clone());
    let new = match old {
        Some(o) => add(&o, &g)?,
        // Kept as is only when nothing else can see or alias it: a broadcast gradient
        // (stride 0) stored as `.grad` would turn `x.grad[0] = v` into a write of every element.
        None if create_graph || (g.owns_storage_alone() && g.is_contiguous()) => g,
        None => crate::ops::copy::contiguous_copy(&g)?,
    };
    let new = if create_graph { new } else { new.detach() };
    let mut meta = t.autograd();
    meta.get_or_insert_with(Default::default).grad = Some(new);
    Ok(())
}
