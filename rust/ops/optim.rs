//! Fused optimizer steps: one call updates every parameter of a group in place, with its
//! state, split across the thread pool. The Python optimizers call this once per step
//! instead of a dozen small tensor ops per parameter.

use rayon::prelude::*;

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::cpu::optim::{update, Float, Rule};
use crate::cpu::PARALLEL_MIN;

/// One parameter's buffers, as raw pointers for the worker threads.
struct Job {
    param: *mut u8,
    grad: *const u8,
    state: Vec<*mut u8>,
    len: usize,
    step: u64,
    fresh: bool,
}

/// Applies `rule` to every parameter in place. `state[i]` holds parameter `i`'s state
/// tensors (`rule.state_len()` of them, `None` for one not created yet: it starts as
/// zeros, or for SGD's momentum as PyTorch does, as the first update direction);
/// `steps[i]` is parameter `i`'s step count after this step. Returns the state tensors,
/// with the new ones filled in.
pub fn step(
    rule: &Rule,
    params: &[Tensor],
    grads: &[Tensor],
    state: Vec<Vec<Option<Tensor>>>,
    steps: &[u64],
) -> Result<Vec<Vec<Tensor>>> {
    let n = params.len();
    if grads.len() != n || state.len() != n || steps.len() != n {
        bail!(
            Value,
            "optimizer step: {n} parameters but {} gradients, {} state entries and {} step counts",
            grads.len(),
            state.len(),
            steps.len()
        );
    }
    let mut all: Vec<&Tensor> = params.iter().chain(grads).collect();
    all.extend(state.iter().flatten().flatten());
    let device = crate::ops::device::common_device("optimizer step", &all)?;
    let Some(dtype) = params.first().map(Tensor::dtype) else {
        return Ok(Vec::new());
    };
    if !matches!(dtype, DType::F32 | DType::F64) {
        bail!(Type, "optimizer step: the fused update takes float32 or float64 parameters, got {dtype}");
    }
    let zeros = |shape: &[usize]| Tensor::zeros_on(shape, dtype, device);
    let want = rule.state_len();
    let mut grads_c = Vec::with_capacity(n);
    let mut out_state = Vec::with_capacity(n);
    let mut fresh = Vec::with_capacity(n);
    for (i, ((p, g), st)) in params.iter().zip(grads).zip(state).enumerate() {
        check_operand(i, "parameter", p, dtype, p.shape())?;
        if st.len() != want {
            bail!(Value, "optimizer step: parameter {i} has {} state tensors, the rule needs {want}", st.len());
        }
        // A gradient of another float dtype or layout is converted, as `add_` would.
        let g = crate::ops::copy::astype(g, dtype)?;
        let g = if g.is_contiguous() { g } else { crate::ops::copy::contiguous_copy(&g)? };
        check_operand(i, "gradient", &g, dtype, p.shape())?;
        fresh.push(st.iter().any(Option::is_none));
        let mut bufs = Vec::with_capacity(want);
        for s in st {
            let s = match s {
                Some(s) => s,
                None => zeros(p.shape())?,
            };
            check_operand(i, "state", &s, dtype, p.shape())?;
            bufs.push(s);
        }
        grads_c.push(g);
        out_state.push(bufs);
    }
    for t in params.iter().chain(out_state.iter().flatten()) {
        t.check_writable()?;
    }
    if device.is_gpu() {
        check_disjoint_buffers(params, &grads_c, &out_state)?;
        for i in 0..n {
            crate::gpu::optimizer_step(rule, &params[i], &grads_c[i], &out_state[i], steps[i], fresh[i])?;
        }
        return Ok(out_state);
    }
    check_disjoint(params, &grads_c, &out_state)?;
    let jobs: Vec<Job> = (0..n)
        .map(|i| Job {
            param: params[i].data_ptr(),
            grad: grads_c[i].data_ptr(),
            state: out_state[i].iter().map(Tensor::data_ptr).collect(),
            len: params[i].numel(),
            step: steps[i],
            fresh: fresh[i],
        })
        .collect();
    match dtype {
        DType::F64 => run::<f64>(rule, &jobs),
        _ => run::<f32>(rule, &jobs),
    }
    Ok(out_state)
}

fn check_operand(i: usize, what: &str, t: &Tensor, dtype: DType, shape: &[usize]) -> Result<()> {
    if t.dtype() != dtype {
        bail!(Type, "optimizer step: {what} {i} is {}, but the parameters are {dtype}", t.dtype());
    }
    if t.shape() != shape {
        bail!(Value, "optimizer step: {what} {i} has shape {:?}, its parameter {shape:?}", t.shape());
    }
    if !t.is_contiguous() {
        bail!(Value, "optimizer step: {what} {i} is not contiguous (the fused update writes it in place)");
    }
    Ok(())
}

/// The update writes parameters and state through raw slices: none of them may share
/// memory with another, or with a gradient.
fn check_disjoint(params: &[Tensor], grads: &[Tensor], state: &[Vec<Tensor>]) -> Result<()> {
    let span = |t: &Tensor| {
        let start = t.data_ptr() as usize;
        (start, start + t.numel() * t.dtype().size())
    };
    let mut spans: Vec<(usize, usize, bool)> = params
        .iter()
        .chain(state.iter().flatten())
        .map(|t| (span(t), true))
        .chain(grads.iter().map(|t| (span(t), false)))
        .filter(|((a, b), _)| a < b)
        .map(|((a, b), w)| (a, b, w))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let ((_, end, w0), (start, _, w1)) = ((pair[0].0, pair[0].1, pair[0].2), (pair[1].0, pair[1].1, pair[1].2));
        if start < end && (w0 || w1) {
            bail!(
                Value,
                "optimizer step: two parameters (or a parameter and its state or a gradient) share memory; \
                 pass each parameter once"
            );
        }
    }
    Ok(())
}

/// The GPU form of [`check_disjoint`]: kernels bind whole buffers, and WebGPU forbids a
/// buffer bound writable twice or writable and read-only in one dispatch, so no written
/// tensor (parameter or state) may share a device buffer with any other operand.
fn check_disjoint_buffers(params: &[Tensor], grads: &[Tensor], state: &[Vec<Tensor>]) -> Result<()> {
    let key = |t: &Tensor| t.storage().gpu().map_or(0, |b| std::sync::Arc::as_ptr(b) as *const u8 as usize);
    let mut written = std::collections::HashSet::new();
    for t in params.iter().chain(state.iter().flatten()) {
        if !written.insert(key(t)) {
            bail!(Value, "optimizer step: two parameters (or a parameter and its state) share one GPU buffer");
        }
    }
    if grads.iter().any(|g| written.contains(&key(g))) {
        bail!(Value, "optimizer step: a gradient shares a GPU buffer with a parameter or its state");
    }
    Ok(())
}

fn run<T: Float + 'static>(rule: &Rule, jobs: &[Job]) {
    // Chunks of at most PARALLEL_MIN elements across all parameters, so one big weight
    // matrix splits across threads and many small biases share one.
    let mut chunks: Vec<(usize, usize, usize)> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let mut at = 0;
        while at < job.len {
            let end = (at + PARALLEL_MIN).min(job.len);
            chunks.push((j, at, end));
            at = end;
        }
    }
    let total: usize = jobs.iter().map(|j| j.len).sum();
    let body = |&(j, lo, hi): &(usize, usize, usize)| {
        let job = &jobs[j];
        let len = hi - lo;
        // SAFETY: the buffers are contiguous, hold T, are pairwise disjoint
        // (check_disjoint) and the chunks of one buffer do not overlap.
        unsafe {
            let param = std::slice::from_raw_parts_mut((job.param as *mut T).add(lo), len);
            let grad = std::slice::from_raw_parts((job.grad as *const T).add(lo), len);
            let mut state: Vec<&mut [T]> =
                job.state.iter().map(|&s| std::slice::from_raw_parts_mut((s as *mut T).add(lo), len)).collect();
            update(rule, param, grad, &mut state, job.step, job.fresh);
        }
    };
    if total < 2 * PARALLEL_MIN {
        chunks.iter().for_each(body);
    } else {
        chunks.par_iter().for_each(body);
    }
}

// Raw pointers in `Job` are only dereferenced inside `run`, on disjoint chunks.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}
