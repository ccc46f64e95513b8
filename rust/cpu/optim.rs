//! Optimizer update rules, one pass over a slice of parameters and their state.
//!
//! The formulas (and the order of their floating-point operations) follow PyTorch's
//! single-tensor implementations in `torch/optim/*.py`, including the evaluation order
//! of ATen's `addcmul` (`self + value * a * b`) and `addcdiv` (`self + value * a / b`)
//! and its two-sided `lerp`, so a float32 run matches PyTorch's to rounding. Every rule reads each element once and writes it once: a
//! step is memory-bound, and fusing it is what makes it cheap.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// The float types parameters come in.
pub trait Float:
    Copy
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    fn of(v: f64) -> Self;
    fn sqrt(self) -> Self;
    fn max(self, other: Self) -> Self;
}

impl Float for f32 {
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn max(self, other: f32) -> f32 {
        if self.is_nan() || self >= other {
            self
        } else {
            other
        }
    }
}

impl Float for f64 {
    fn of(v: f64) -> f64 {
        v
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn max(self, other: f64) -> f64 {
        if self.is_nan() || self >= other {
            self
        } else {
            other
        }
    }
}

/// `s + w * (e - s)`, computed as PyTorch's `lerp` does (from the nearer end).
fn lerp<T: Float>(s: T, e: T, w: f64) -> T {
    if w < 0.5 {
        s + T::of(w) * (e - s)
    } else {
        e - (e - s) * T::of(1.0 - w)
    }
}

/// One optimizer's hyper-parameters (for one parameter group).
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// State: `[momentum_buffer]` when `momentum != 0`, else none.
    Sgd { lr: f64, momentum: f64, dampening: f64, weight_decay: f64, nesterov: bool, maximize: bool },
    /// State: `[exp_avg, exp_avg_sq]`, plus `max_exp_avg_sq` with `amsgrad`. `decoupled`
    /// is AdamW's weight decay.
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        amsgrad: bool,
        maximize: bool,
    },
    /// State: `[square_avg]`, plus `grad_avg` when `centered`, plus `momentum_buffer`
    /// when `momentum > 0`.
    RmsProp { lr: f64, alpha: f64, eps: f64, weight_decay: f64, momentum: f64, centered: bool, maximize: bool },
    /// State: `[sum]`.
    Adagrad { lr: f64, lr_decay: f64, eps: f64, weight_decay: f64, maximize: bool },
}

impl Rule {
    /// How many state slices each parameter carries.
    pub fn state_len(&self) -> usize {
        match *self {
            Rule::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            Rule::Adam { amsgrad, .. } => 2 + usize::from(amsgrad),
            Rule::RmsProp { centered, momentum, .. } => 1 + usize::from(centered) + usize::from(momentum > 0.0),
            Rule::Adagrad { .. } => 1,
        }
    }
}

/// Updates `param` in place from `grad`. `state` holds [`Rule::state_len`] slices of the
/// same length; `step` is the step number after this update (1 on the first call);
/// `fresh` says the momentum buffer is new (SGD copies the gradient into it, as PyTorch).
pub fn update<T: Float>(rule: &Rule, param: &mut [T], grad: &[T], state: &mut [&mut [T]], step: u64, fresh: bool) {
    let sign = |maximize: bool, g: T| if maximize { -g } else { g };
    match *rule {
        Rule::Sgd { lr, momentum, dampening, weight_decay, nesterov, maximize } => {
            let (lr, wd, mom, keep) = (T::of(lr), T::of(weight_decay), T::of(momentum), T::of(1.0 - dampening));
            let decay = weight_decay != 0.0;
            match state {
                [] => {
                    for (p, &g) in param.iter_mut().zip(grad) {
                        let mut d = sign(maximize, g);
                        if decay {
                            d = d + wd * *p;
                        }
                        *p = *p + d * -lr;
                    }
                }
                [buf, ..] => {
                    for ((p, &g), b) in param.iter_mut().zip(grad).zip(buf.iter_mut()) {
                        let mut d = sign(maximize, g);
                        if decay {
                            d = d + wd * *p;
                        }
                        *b = if fresh { d } else { *b * mom + d * keep };
                        d = if nesterov { d + mom * *b } else { *b };
                        *p = *p + d * -lr;
                    }
                }
            }
        }
        Rule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, maximize, .. } => {
            let bc1 = 1.0 - beta1.powf(step as f64);
            let bc2_sqrt = T::of((1.0 - beta2.powf(step as f64)).sqrt());
            let step_size = T::of(lr / bc1);
            let (b2, w2, eps, wd) = (T::of(beta2), T::of(1.0 - beta2), T::of(eps), T::of(weight_decay));
            let shrink = T::of(1.0 - lr * weight_decay);
            let decay = weight_decay != 0.0;
            let (m, rest) = state.split_first_mut().expect("adam state");
            let (v, rest) = rest.split_first_mut().expect("adam state");
            let mut vmax = rest.first_mut();
            for i in 0..param.len() {
                let mut g = sign(maximize, grad[i]);
                let mut p = param[i];
                if decay {
                    if decoupled {
                        p = p * shrink;
                    } else {
                        g = g + wd * p;
                    }
                }
                m[i] = lerp(m[i], g, 1.0 - beta1);
                v[i] = v[i] * b2 + w2 * g * g;
                let second = match vmax.as_mut() {
                    Some(vm) => {
                        vm[i] = vm[i].max(v[i]);
                        vm[i]
                    }
                    None => v[i],
                };
                let denom = second.sqrt() / bc2_sqrt + eps;
                param[i] = p + -step_size * m[i] / denom;
            }
        }
        Rule::RmsProp { lr, alpha, eps, weight_decay, momentum, centered, maximize } => {
            let (a, wa, eps, wd, mom, lr) =
                (T::of(alpha), T::of(1.0 - alpha), T::of(eps), T::of(weight_decay), T::of(momentum), T::of(lr));
            let decay = weight_decay != 0.0;
            let (sq, rest) = state.split_first_mut().expect("rmsprop state");
            let (mut gavg, rest) = if centered {
                let (ga, rest) = rest.split_first_mut().expect("rmsprop state");
                (Some(ga), rest)
            } else {
                (None, rest)
            };
            let mut buf = rest.first_mut();
            for i in 0..param.len() {
                let mut g = sign(maximize, grad[i]);
                if decay {
                    g = g + wd * param[i];
                }
                sq[i] = sq[i] * a + wa * g * g;
                let avg = match gavg.as_mut() {
                    Some(ga) => {
                        ga[i] = lerp(ga[i], g, 1.0 - alpha);
                        (sq[i] + -(ga[i] * ga[i])).sqrt() + eps
                    }
                    None => sq[i].sqrt() + eps,
                };
                match buf.as_mut() {
                    Some(b) => {
                        b[i] = b[i] * mom + g / avg;
                        param[i] = param[i] + b[i] * -lr;
                    }
                    None => param[i] = param[i] + -lr * g / avg,
                }
            }
        }
        Rule::Adagrad { lr, lr_decay, eps, weight_decay, maximize } => {
            let clr = T::of(lr / (1.0 + (step as f64 - 1.0) * lr_decay));
            let (eps, wd) = (T::of(eps), T::of(weight_decay));
            let decay = weight_decay != 0.0;
            let sum = &mut state[0];
            for i in 0..param.len() {
                let mut g = sign(maximize, grad[i]);
                if decay {
                    g = g + wd * param[i];
                }
                sum[i] = sum[i] + g * g;
                param[i] = param[i] + -clr * g / (sum[i].sqrt() + eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_momentum_matches_the_formula() {
        let rule =
            Rule::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false };
        let (mut p, g, mut b) = (vec![1.0f64, 2.0], vec![0.5, -1.0], vec![0.0, 0.0]);
        update(&rule, &mut p, &g, &mut [&mut b[..]], 1, true);
        assert_eq!(b, vec![0.5, -1.0]);
        assert_eq!(p, vec![1.0 - 0.05, 2.0 + 0.1]);
        update(&rule, &mut p, &g, &mut [&mut b[..]], 2, false);
        assert!((b[0] - 0.95).abs() < 1e-15 && (p[0] - (0.95 - 0.095)).abs() < 1e-15);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // With bias correction the first step is lr * g / (|g| + eps') = ~lr * sign(g).
        let rule = Rule::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            maximize: false,
        };
        let (mut p, g, mut m, mut v) = (vec![1.0f64, 1.0], vec![3.0, -0.2], vec![0.0; 2], vec![0.0; 2]);
        update(&rule, &mut p, &g, &mut [&mut m[..], &mut v[..]], 1, true);
        assert!((p[0] - 0.99).abs() < 1e-9 && (p[1] - 1.01).abs() < 1e-9);
    }
}
