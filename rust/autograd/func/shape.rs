//! Differentiable views, indexing and joins. Most backward passes here share one idea:
//! apply the same op to `arange(numel)` shaped like the input, which says for every
//! output element which input element it came from ("lin"); the gradient is then a
//! scatter-add of the output gradient at those positions (correct for overlapping
//! views and repeated indices too), and the gradient of that scatter is a gather.

use std::sync::Arc;

use super::elementwise::masked;
use super::{check_inplace, history_of, rebase};
use crate::autograd::graph::{needs_grad, record, record_node, Grads};
use crate::autograd::mode;
use crate::bail;
use crate::core::{DType, Result, Scalar, Tensor};
use crate::ops::copy::contiguous;
use crate::ops::index::{self as ix, IndexItem};

/// A layout or gather transform that can be replayed on another tensor of the same shape.
pub type Transform = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

fn one(g: Grads) -> Tensor {
    g.into_iter().next().flatten().expect("one output")
}

/// `arange(numel)` in `shape`: the flat position of every element.
fn positions(shape: &[usize]) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let ar = crate::ops::create::arange(Scalar::Int(0), Scalar::Int(n as i64), Scalar::Int(1), DType::I64)?;
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    ar.reshape(&dims)
}

/// `x.flatten()[lin]`, differentiable (backward: [`put_flat`]).
pub fn take_flat(x: &Tensor, lin: &Tensor) -> Result<Tensor> {
    let flat = x.reshape(&[-1])?;
    let r = ix::index(&flat, &[IndexItem::Tensor(lin.clone())])?;
    if needs_grad(&[x]) {
        let (shape, lin) = (x.shape().to_vec(), lin.clone());
        record("TakeBackward", &[x], &[&r], Box::new(move |g: Grads| Ok(vec![Some(put_flat(&shape, &lin, &one(g))?)])));
    }
    Ok(r)
}

/// A zero tensor of `shape` with `g` scatter-added at flat positions `lin`
/// (differentiable; backward: [`take_flat`]).
pub fn put_flat(shape: &[usize], lin: &Tensor, g: &Tensor) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    // On g's device: a CPU `lin` is uploaded by scatter_add, so GPU gradients stay there.
    let acc = crate::ops::create::full_on(&[n], Scalar::Int(0), g.dtype(), g.device())?;
    let idx = contiguous(lin)?.reshape(&[-1])?;
    let src = contiguous(&g.broadcast_to(lin.shape())?)?.reshape(&[-1])?;
    crate::ops::scatter::scatter_add(&acc, 0, &idx, &src)?;
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let r = acc.reshape(&dims)?;
    if needs_grad(&[g]) {
        let lin = lin.clone();
        record("PutBackward", &[g], &[&r], Box::new(move |gg: Grads| Ok(vec![Some(take_flat(&one(gg), &lin)?)])));
    }
    Ok(r)
}

/// Gives `t`, a view of `base` taken before an in-place op gave `base` new history, history
/// read from the base's current one (PyTorch's rebase of such views): `t`'s elements sit
/// at known places of `base`'s contiguous storage, so its gradient is scattered back
/// there. Returns false, recording nothing, when `base` is not contiguous or `t` reaches
/// outside it.
pub(crate) fn rebase_view(t: &Tensor, base: &Tensor) -> bool {
    let (lo, hi) = t.layout().span();
    let (start, n) = (base.offset() as isize, base.numel() as isize);
    if !base.is_contiguous() || !t.shares_storage(base) || lo < start || hi > start + n {
        return false;
    }
    let shape = base.shape().to_vec();
    let mut layout = t.layout().clone();
    layout.offset -= base.offset();
    record_node(
        "AsStridedBackward",
        &[base],
        &[t],
        move |_| {
            Box::new(move |g: Grads| {
                let lin = positions(&shape)?.with_layout(layout.clone());
                Ok(vec![Some(put_flat(&shape, &lin, &one(g))?)])
            })
        },
        true,
    );
    true
}

/// Records `y = f(x)` for a gather-like `f` (a view, an index, tile...): the backward
/// scatters through `f` replayed on positions, computed only if backward runs.
pub fn via_positions(x: &Tensor, y: &Tensor, name: &'static str, f: Transform) {
    if !needs_grad(&[x]) || !y.dtype().is_float() {
        return;
    }
    let shape = x.shape().to_vec();
    let is_view = y.shares_storage(x);
    record_node(
        name,
        &[x],
        &[y],
        move |_| {
            Box::new(move |g: Grads| {
                let lin = f(&positions(&shape)?)?;
                Ok(vec![Some(put_flat(&shape, &lin, &one(g))?)])
            })
        },
        is_view,
    );
}

/// `f(x)` for a gather-like transform, differentiable.
pub fn gather_op(x: &Tensor, name: &'static str, f: Transform) -> Result<Tensor> {
    let y = f(x)?;
    via_positions(x, &y, name, f);
    Ok(y)
}

/// `reshape` (a view when strides allow, else a copy), differentiable.
pub fn reshape(x: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let y = x.reshape(shape)?;
    if needs_grad(&[x]) {
        let back: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
        let is_view = y.shares_storage(x);
        record_node(
            "ReshapeBackward",
            &[x],
            &[&y],
            move |_| Box::new(move |g: Grads| Ok(vec![Some(reshape(&one(g), &back)?)])),
            is_view,
        );
    }
    Ok(y)
}

/// Records `y`, which holds `x`'s elements in the same order under another shape
/// (view, flatten, squeeze...): the gradient is reshaped back.
pub fn reshaped(x: &Tensor, y: Tensor) -> Result<Tensor> {
    if needs_grad(&[x]) && y.dtype().is_float() {
        let back: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
        let is_view = y.shares_storage(x);
        record_node(
            "ViewBackward",
            &[x],
            &[&y],
            move |_| Box::new(move |g: Grads| Ok(vec![Some(reshape(&one(g), &back)?)])),
            is_view,
        );
    }
    Ok(y)
}

/// `t.fill_(v)` / `t.zero_()`: on a tensor with history, the history ends here.
pub fn fill(t: &Tensor, v: Scalar) -> Result<()> {
    check_inplace(t, "fill_")?;
    crate::ops::copy::fill(t, v)?;
    if mode::is_enabled() && t.requires_grad() {
        let old = history_of(t);
        rebase(t, "FillBackward", &[Some(&old)], |_| Box::new(|_g: Grads| Ok(vec![None])));
    }
    Ok(())
}

/// `t.copy_(src)`: `t` takes `src`'s values, and its gradient flows to `src`.
pub fn copy_into(t: &Tensor, src: &Tensor) -> Result<()> {
    let grad = mode::is_enabled() && (t.requires_grad() || src.requires_grad());
    if grad {
        check_inplace(t, "copy_")?;
    }
    crate::ops::copy::assign(t, src)?;
    if grad && t.dtype().is_float() && src.dtype().is_float() {
        let old = history_of(t);
        rebase(t, "CopyBackward", &[Some(&old), Some(src)], |_| Box::new(|g: Grads| Ok(vec![None, Some(one(g))])));
    }
    Ok(())
}

/// `permute`, differentiable (backward: the inverse permutation).
pub fn permute(x: &Tensor, axes: &[i64]) -> Result<Tensor> {
    let y = x.permute(axes)?;
    if needs_grad(&[x]) {
        let nd = x.ndim();
        let mut inv = vec![0i64; nd];
        for (i, &a) in axes.iter().enumerate() {
            let a = crate::core::normalize_axis(a, nd)?;
            inv[a] = i as i64;
        }
        record_node(
            "PermuteBackward",
            &[x],
            &[&y],
            move |_| Box::new(move |g: Grads| Ok(vec![Some(permute(&one(g), &inv)?)])),
            true,
        );
    }
    Ok(y)
}

/// `broadcast_to`/`expand`, differentiable: the engine sums the gradient back to the
/// input's shape, so the formula is the identity.
pub fn broadcast_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let y = x.broadcast_to(shape)?;
    if needs_grad(&[x]) {
        record_node("ExpandBackward", &[x], &[&y], |_| Box::new(|g: Grads| Ok(vec![Some(one(g))])), true);
    }
    Ok(y)
}

/// A copy of `x` (a new tensor, or `x` itself when `contiguous` allows), differentiable.
pub fn identity_op(x: &Tensor, y: Tensor, name: &'static str) -> Result<Tensor> {
    if needs_grad(&[x]) && y.dtype().is_float() {
        let y = if y.same(x) { x.detach() } else { y };
        record(name, &[x], &[&y], Box::new(|g: Grads| Ok(vec![Some(one(g))])));
        return Ok(y);
    }
    Ok(y)
}

/// The gradient reduced to `shape` by summing broadcast dims (differentiable).
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim().checked_sub(shape.len()).unwrap_or(usize::MAX);
    let fits = lead != usize::MAX && shape.iter().enumerate().all(|(i, &d)| d == g.shape()[i + lead] || d == 1);
    if !fits {
        bail!(Runtime, "a gradient of shape {:?} cannot be reduced to shape {shape:?}", g.shape());
    }
    let mut axes: Vec<i64> = (0..lead as i64).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[i + lead] != 1 {
            axes.push((i + lead) as i64);
        }
    }
    let s = super::reduce::sum(g, Some(&axes), true, None)?;
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    reshape(&s, &dims)
}

/// `x[items]`, differentiable.
pub fn index(x: &Tensor, items: &[IndexItem]) -> Result<Tensor> {
    let items_v = items.to_vec();
    gather_op(x, "IndexBackward", Arc::new(move |t: &Tensor| ix::index(t, &items_v)))
}

/// `x[items] = v`, differentiable in both `x` (where not overwritten) and `v`.
pub fn index_put(x: &Tensor, items: &[IndexItem], v: &Tensor) -> Result<()> {
    let grad = mode::is_enabled() && (x.requires_grad() || v.requires_grad());
    if !grad {
        return ix::index_put(x, items, v);
    }
    check_inplace(x, "index_put")?;
    let old = history_of(x);
    ix::index_put(x, items, v)?;
    if !x.dtype().is_float() {
        return Ok(());
    }
    let (shape, items) = (x.shape().to_vec(), items.to_vec());
    let v_in = if v.dtype().is_float() { Some(v) } else { None };
    let wants_v = v_in.is_some();
    rebase(x, "IndexPutBackward", &[Some(&old), v_in], move |_| {
        Box::new(move |g: Grads| {
            let g = one(g);
            let lin = ix::index(&positions(&shape)?, &items)?;
            // x keeps its gradient where it was not overwritten.
            let keep = crate::ops::create::full_on(&shape, Scalar::Bool(true), DType::Bool, g.device())?;
            let no = crate::ops::create::full_on(&[], Scalar::Bool(false), DType::Bool, g.device())?;
            ix::index_put(&keep, &items, &no)?;
            let mut res = vec![Some(masked(&g, &keep)?)];
            if wants_v {
                res.push(Some(take_flat(&g, &lin)?));
            }
            Ok(res)
        })
    });
    Ok(())
}

/// `concat`, differentiable: each input gets its slice of the gradient.
pub fn concat(xs: &[Tensor], axis: i64) -> Result<Tensor> {
    let y = crate::ops::manip::concat(xs, axis)?;
    let refs: Vec<&Tensor> = xs.iter().collect();
    if needs_grad(&refs) && y.dtype().is_float() {
        let nd = y.ndim();
        let ax = crate::core::normalize_axis(axis, nd)?;
        let sizes: Vec<usize> = xs.iter().map(|t| if t.ndim() == 0 { 1 } else { t.shape()[ax] }).collect();
        record(
            "ConcatBackward",
            &refs,
            &[&y],
            Box::new(move |g: Grads| {
                let g = one(g);
                let mut start = 0i64;
                let mut res = Vec::with_capacity(sizes.len());
                for &n in &sizes {
                    let part =
                        gather_op(&g, "NarrowBackward", Arc::new(move |t: &Tensor| t.narrow(ax as i64, start, n)))?;
                    res.push(Some(part));
                    start += n as i64;
                }
                Ok(res)
            }),
        );
    }
    Ok(y)
}

/// `stack`, differentiable: each input gets its index of the gradient.
pub fn stack(xs: &[Tensor], axis: i64) -> Result<Tensor> {
    let y = crate::ops::manip::stack(xs, axis)?;
    let refs: Vec<&Tensor> = xs.iter().collect();
    if needs_grad(&refs) && y.dtype().is_float() {
        let ax = crate::core::normalize_axis(axis, y.ndim())? as i64;
        let n = xs.len();
        record(
            "StackBackward",
            &refs,
            &[&y],
            Box::new(move |g: Grads| {
                let g = one(g);
                (0..n)
                    .map(|i| {
                        gather_op(&g, "SelectBackward", Arc::new(move |t: &Tensor| t.select(ax, i as i64))).map(Some)
                    })
                    .collect()
            }),
        );
    }
    Ok(y)
}

/// `astype`, differentiable for float-to-float casts (the engine casts gradients back).
pub fn astype(x: &Tensor, dtype: DType) -> Result<Tensor> {
    let y = crate::ops::copy::astype(x, dtype)?;
    if x.dtype().is_float() {
        return identity_op(x, y, "ToCopyBackward");
    }
    Ok(y)
}

/// `x` moved to `device`; the gradient moves back to `x`'s device.
pub fn to_device(x: &Tensor, device: crate::core::Device) -> Result<Tensor> {
    let y = crate::ops::copy::to_device(x, device)?;
    if needs_grad(&[x]) && y.dtype().is_float() && !y.same(x) {
        let back = x.device();
        record(
            "ToCopyBackward",
            &[x],
            &[&y],
            Box::new(move |g: Grads| Ok(vec![Some(crate::ops::copy::to_device(&one(g), back)?)])),
        );
    }
    Ok(y)
}

/// `tril`/`triu`, differentiable (the gradient is masked the same way).
pub fn triangle(x: &Tensor, k: i64, lower: bool) -> Result<Tensor> {
    let y = crate::ops::manip::triangle(x, k, lower)?;
    if needs_grad(&[x]) && y.dtype().is_float() {
        record(
            if lower { "TrilBackward" } else { "TriuBackward" },
            &[x],
            &[&y],
            Box::new(move |g: Grads| Ok(vec![Some(triangle(&one(g), k, lower)?)])),
        );
    }
    Ok(y)
}

/// `scatter_add` into a copy-free `out` (in place), differentiable in `out` and `src`.
pub fn scatter_add(out: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<()> {
    let grad = mode::is_enabled() && (out.requires_grad() || src.requires_grad());
    if !grad {
        return crate::ops::scatter::scatter_add(out, dim, index, src);
    }
    check_inplace(out, "scatter_add")?;
    let old = history_of(out);
    crate::ops::scatter::scatter_add(out, dim, index, src)?;
    if !out.dtype().is_float() {
        return Ok(());
    }
    // Where each used element of src went, as flat positions of out.
    let d = crate::core::normalize_axis(dim, out.ndim().max(1))?;
    let lin = target_positions(out.shape(), d, index)?;
    let src_shape = src.shape().to_vec();
    let used: Vec<IndexItem> = index.shape().iter().map(|&n| IndexItem::Slice(Some(0), Some(n as i64), 1)).collect();
    let wants_src = src.dtype().is_float();
    let src_in = if wants_src { Some(src) } else { None };
    rebase(out, "ScatterAddBackward", &[Some(&old), src_in], move |_| {
        Box::new(move |g: Grads| {
            let g = one(g);
            let mut res = vec![Some(g.clone())];
            if wants_src {
                let picked = take_flat(&g, &lin)?;
                let src_pos = ix::index(&positions(&src_shape)?, &used)?;
                res.push(Some(put_flat(&src_shape, &src_pos, &picked)?));
            }
            Ok(res)
        })
    });
    Ok(())
}

/// Flat positions in a tensor of `shape` that `index` (along `d`) points at.
pub fn target_positions(shape: &[usize], d: usize, index: &Tensor) -> Result<Tensor> {
    // Positions are built on the CPU (int64); a GPU index is read back for that.
    let idx = crate::ops::copy::astype(&crate::ops::copy::on_cpu(index)?, DType::I64)?;
    let limit = shape[d] as i64;
    let wrapped = crate::ops::elementwise::binary(
        crate::ops::table::BinaryOp::Rem,
        crate::ops::elementwise::Operand::Tensor(idx),
        crate::ops::elementwise::Operand::Scalar(Scalar::Int(limit)),
        None,
    )?;
    let stride: usize = shape[d + 1..].iter().product();
    let pos = positions(shape)?;
    // Position of (coords with dim d set to 0), for every element of index.
    let sub: Vec<IndexItem> =
        index
            .shape()
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                if k == d {
                    IndexItem::Slice(Some(0), Some(1), 1)
                } else {
                    IndexItem::Slice(Some(0), Some(n as i64), 1)
                }
            })
            .collect();
    let base = ix::index(&pos, &sub)?;
    let step = crate::ops::elementwise::binary(
        crate::ops::table::BinaryOp::Mul,
        crate::ops::elementwise::Operand::Tensor(wrapped),
        crate::ops::elementwise::Operand::Scalar(Scalar::Int(stride as i64)),
        None,
    )?;
    crate::ops::elementwise::binary(
        crate::ops::table::BinaryOp::Add,
        crate::ops::elementwise::Operand::Tensor(base),
        crate::ops::elementwise::Operand::Tensor(step),
        None,
    )
}

/// Values of `x` picked along `axis` by `indices` (sort, topk, max with indices),
/// differentiable in `x`.
pub fn take_along(x: &Tensor, indices: &Tensor, axis: usize) -> Result<Tensor> {
    let lin = target_positions(x.shape(), axis, indices)?;
    take_flat(x, &lin)
}
