//! The fused optimizer step on the GPU: one dispatch of `shaders/optim.wgsl` per
//! parameter, updating the parameter and its state in place. The rule's constants are
//! derived here exactly as `rust/cpu/optim.rs` derives them (in f64, then rounded), so
//! both devices apply the same float32 numbers.

use super::context::Context;
use super::kernels::{buffer, context_of};
use super::launch::{grid, launch};
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
    let word = |t: &Tensor| {
        u32::try_from(t.layout().offset).map_err(|_| Error::Value("a tensor offset exceeds 32-bit indexing".into()))
    };
    let mut md = vec![u32::try_from(n).map_err(|_| Error::Value(format!("{n} elements exceed 32-bit indexing")))?];
    md.push(word(param)?);
    md.push(word(grad)?);
    for k in 0..3 {
        md.push(state.get(k).map(word).transpose()?.unwrap_or(0));
    }
    md.push(flags);
    md.extend(hyper.iter().map(|&h| (h as f32).to_bits()));
    if state.len() > 3 {
        bail!(Value, "optimizer step: at most 3 state tensors per parameter, got {}", state.len());
    }
    let mut bufs = vec![buffer(param)?.raw(), buffer(grad)?.raw()];
    for s in state {
        bufs.push(buffer(s)?.raw());
    }
    let p = pipeline(&ctx, Family::Optim, entry, &[])?;
    launch(&ctx, &p, &md, &bufs, grid(&ctx, (n as u64).div_ceil(256))?)
}
