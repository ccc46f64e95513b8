//! The fused optimizer step on the GPU: one dispatch of `shaders/optim.wgsl` per
//! parameter, updating the parameter and its state in place. The rule's constants are
//! derived here exactly as `rust/cpu/optim.rs` derives them (in f64, then rounded), so
//! both devices apply the same float32 numbers.

use super::context::Context;
use super::kernels::{buffer, context_of};
use super::launch::{grid, launch_windows, Window};
use super::pipelines::pipeline;
use crate::bail;
use crate::core::{Error, Result, Tensor};
use crate::cpu::optim::Rule;
use crate::gpu::shaders::Family;

/// Flag bits of the shader's `md[6]`.
const MAXIMIZE: u32 = 1;
const DECAY: u32 = 2;
const VARIANT: u32 = 4;
const FRESH: u32 = 8;

/// (entry point, flags, hyper-parameters) of `rule` at step `step`.
fn plan(rule: &Rule, step: u64, fresh: bool) -> (&'static str, u32, Vec<f64>) {
    let bit = |on: bool, b: u32| if on { b } else { 0 };
    match *rule {
        Rule::Sgd { lr, momentum, dampening, weight_decay, nesterov, maximize } => {
            let flags = bit(maximize, MAXIMIZE) | bit(weight_decay != 0.0, DECAY) | bit(nesterov, VARIANT);
            if momentum == 0.0 {
                ("sgd", flags, vec![lr, weight_decay])
            } else {
                ("sgd_momentum", flags | bit(fresh, FRESH), vec![lr, weight_decay, momentum, 1.0 - dampening])
            }
        }
        Rule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize } => {
            let bc1 = 1.0 - beta1.powf(step as f64);
            let bc2_sqrt = (1.0 - beta2.powf(step as f64)).sqrt();
            let flags = bit(maximize, MAXIMIZE) | bit(weight_decay != 0.0, DECAY) | bit(decoupled, VARIANT);
            let h =
                vec![lr / bc1, 1.0 - beta1, beta2, 1.0 - beta2, eps, weight_decay, 1.0 - lr * weight_decay, bc2_sqrt];
            (if amsgrad { "adam_amsgrad" } else { "adam" }, flags, h)
        }
        Rule::RmsProp { lr, alpha, eps, weight_decay, momentum, centered, maximize } => {
            let entry = match (centered, momentum > 0.0) {
                (false, false) => "rmsprop",
                (true, false) => "rmsprop_centered",
                (false, true) => "rmsprop_momentum",
                (true, true) => "rmsprop_centered_momentum",
            };
            let flags = bit(maximize, MAXIMIZE) | bit(weight_decay != 0.0, DECAY);
            (entry, flags, vec![lr, alpha, 1.0 - alpha, eps, weight_decay, momentum])
        }
        Rule::Adagrad { lr, lr_decay, eps, weight_decay, maximize } => {
            let clr = lr / (1.0 + (step as f64 - 1.0) * lr_decay);
            let flags = bit(maximize, MAXIMIZE) | bit(weight_decay != 0.0, DECAY);
            ("adagrad", flags, vec![clr, eps, weight_decay])
        }
    }
}

/// Updates `param` (contiguous float32 on a GPU) and its `state` in place from `grad`
/// (same shape, contiguous). Buffers were checked not to alias by the caller.
pub fn optimizer_step(
    rule: &Rule,
    param: &Tensor,
    grad: &Tensor,
    state: &[Tensor],
    step: u64,
    fresh: bool,
) -> Result<()> {
    let mut all = vec![param, grad];
    all.extend(state.iter());
    let ctx: std::sync::Arc<Context> = context_of(&all)?;
    let n = param.numel();
    if n == 0 {
        return Ok(());
    }
    let (entry, flags, hyper) = plan(rule, step, fresh);
    if state.len() > 3 {
        bail!(Value, "optimizer step: at most 3 state tensors per parameter, got {}", state.len());
    }
    let p = pipeline(&ctx, Family::Optim, entry, &[])?;
    // Elementwise over contiguous tensors: a parameter larger than one storage binding
    // (a big embedding on lavapipe) is updated in runs that each bind a window of every
    // buffer.
    let max = ctx.limits.max_storage_buffer_binding_size;
    let align = u64::from(ctx.limits.min_storage_buffer_offset_alignment);
    let run = if all.iter().all(|t| buffer(t).is_ok_and(|b| b.raw().size() <= max)) {
        n
    } else {
        ((max - align) / 4) as usize
    };
    let mut i0 = 0;
    while i0 < n {
        let len = run.min(n - i0);
        let mut md = vec![len as u32];
        let mut windows = Vec::with_capacity(all.len());
        for t in &all {
            let b = buffer(t)?.raw();
            let first = (t.layout().offset + i0) as u64;
            let (offset, size) = if run == n { (0, None) } else { (first * 4 / align * align, Some(0)) };
            let rel = u32::try_from(first - offset / 4)
                .map_err(|_| Error::Value("a tensor offset exceeds 32-bit indexing".into()))?;
            let size = size.map(|_| ((first + len as u64) * 4 - offset).min(b.size() - offset));
            md.push(rel);
            windows.push(Window { buffer: b, offset, size });
        }
        md.resize(6, 0);
        md.push(flags);
        md.extend(hyper.iter().map(|&h| (h as f32).to_bits()));
        launch_windows(&ctx, &p, &md, &windows, grid(&ctx, (len as u64).div_ceil(256))?)?;
        i0 += len;
    }
    Ok(())
}
