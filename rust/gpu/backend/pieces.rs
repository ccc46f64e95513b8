//! Ops over tensors larger than one storage binding (128 MiB on lavapipe; a few GiB on
//! big GPUs), for the kernels that cannot bind windows of a big buffer themselves
//! (elementwise kernels and reductions can: `kernels.rs`). Such an op runs piece by
//! piece: the input is cut along the axes its result does not mix, each piece is
//! copied into a fresh tensor that fits a binding (the copy kernel windows the big
//! buffer), the kernel runs on it, and its result is copied into its place in the
//! full result. The copies cost bandwidth, which only tensors this big pay.

use super::kernels::buffer;
use crate::bail;
use crate::core::{Result, Tensor};
use crate::ops::copy::{assign, contiguous_copy};

/// Whether every tensor's buffer can be bound whole by a kernel.
pub(super) fn bindable(ts: &[&Tensor]) -> Result<bool> {
    for t in ts {
        let b = buffer(t)?;
        if b.raw().size() > b.ctx().limits.max_storage_buffer_binding_size {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Bytes a piece may take: a quarter of a binding, leaving room for results wider than
/// their inputs (float16 widened to float32, values plus indices).
pub(super) fn piece_bytes(t: &Tensor) -> Result<usize> {
    Ok((buffer(t)?.ctx().limits.max_storage_buffer_binding_size / 4) as usize)
}

/// A kernel run on the fresh, contiguous inputs of one piece of `usize` planes.
pub(super) type PlaneKernel<'a> = dyn FnMut(&[Tensor], usize) -> Result<Vec<Tensor>> + 'a;

/// One result of a piecewise op: the full result tensor, and whether its axes are the
/// input's without the axis `keep` (as for argmax) rather than all of them.
pub(super) struct Out<'a> {
    pub full: &'a Tensor,
    pub drops_keep: bool,
}

/// Runs `f` on pieces of `x` cut along axes other than `keep` (the axis the op works
/// along, never cut) and writes its results into `outs`. `f` gets a fresh contiguous
/// piece and returns one tensor per entry of `outs`, shaped as the op's result for it.
pub(super) fn in_pieces(
    x: &Tensor,
    keep: Option<usize>,
    outs: &[Out<'_>],
    f: &mut dyn FnMut(&Tensor) -> Result<Vec<Tensor>>,
) -> Result<()> {
    let limit = piece_bytes(x)?;
    cut(x, keep, outs, limit, f)
}

fn cut(
    x: &Tensor,
    keep: Option<usize>,
    outs: &[Out<'_>],
    limit: usize,
    f: &mut dyn FnMut(&Tensor) -> Result<Vec<Tensor>>,
) -> Result<()> {
    let bytes = x.numel() * x.dtype().size().max(4);
    if bytes <= limit {
        let results = f(&contiguous_copy(x)?)?;
        for (o, r) in outs.iter().zip(&results) {
            assign(o.full, r)?;
        }
        return Ok(());
    }
    // Cut the largest axis the op does not work along into pieces of about `limit`.
    let Some(d) = (0..x.ndim()).filter(|&d| Some(d) != keep && x.shape()[d] > 1).max_by_key(|&d| x.shape()[d]) else {
        bail!(
            OutOfMemory,
            "a GPU op over shape {:?} works along one line of {bytes} bytes, more than a storage binding holds \
             ({} bytes)",
            x.shape(),
            limit * 4
        );
    };
    let n = x.shape()[d];
    let parts = bytes.div_ceil(limit).min(n);
    let step = n.div_ceil(parts);
    let mut start = 0;
    while start < n {
        let len = step.min(n - start);
        let sub: Vec<Tensor> = outs
            .iter()
            .map(|o| {
                let od = if o.drops_keep && keep.is_some_and(|k| d > k) { d - 1 } else { d };
                o.full.narrow(od as i64, start as i64, len)
            })
            .collect::<Result<_>>()?;
        let sub_outs: Vec<Out<'_>> =
            sub.iter().zip(outs).map(|(full, o)| Out { full, drops_keep: o.drops_keep }).collect();
        cut(&x.narrow(d as i64, start as i64, len)?, keep, &sub_outs, limit, f)?;
        start += len;
    }
    Ok(())
}

/// Whether a kernel over `inputs` with results of `out_elems` elements (4 bytes each)
/// must run in pieces: some buffer or result exceeds one storage binding.
pub(super) fn too_big(inputs: &[&Tensor], out_elems: &[usize]) -> Result<bool> {
    let max = buffer(inputs[0])?.ctx().limits.max_storage_buffer_binding_size;
    Ok(!bindable(inputs)? || out_elems.iter().any(|&n| n as u64 * 4 > max))
}

/// Runs a kernel that treats its operands as `planes` independent planes (pooling,
/// padding, interpolation; convolution over images) on pieces of whole planes. Every
/// input and result holds `planes` planes of its own length, contiguously. `f` gets
/// each piece's inputs (fresh and contiguous, shaped `[planes in piece, plane length]`)
/// with the piece's plane count, and returns its results, copied into `outs`.
pub(super) fn by_planes(planes: usize, inputs: &[&Tensor], outs: &[&Tensor], f: &mut PlaneKernel<'_>) -> Result<()> {
    let limit = piece_bytes(inputs[0])?;
    let flat = |t: &Tensor| t.reshape(&[planes as i64, -1]);
    let (ins, outs) = (
        inputs.iter().map(|t| flat(t)).collect::<Result<Vec<_>>>()?,
        outs.iter().map(|t| flat(t)).collect::<Result<Vec<_>>>()?,
    );
    let plane = ins.iter().chain(&outs).map(|t| t.shape()[1] * 4).max().unwrap_or(4);
    if plane > limit {
        bail!(
            OutOfMemory,
            "a GPU op over planes of {plane} bytes cannot run in pieces of whole planes that fit a storage binding \
             ({} bytes)",
            limit * 4
        );
    }
    let step = (limit / plane).max(1);
    for p0 in (0..planes).step_by(step) {
        let len = step.min(planes - p0);
        let piece = |t: &Tensor| t.narrow(0, p0 as i64, len);
        let args = ins.iter().map(|t| contiguous_copy(&piece(t)?)).collect::<Result<Vec<_>>>()?;
        for (o, r) in outs.iter().zip(f(&args, len)?) {
            assign(&piece(o)?, &r.reshape(&[len as i64, -1])?)?;
        }
    }
    Ok(())
}
