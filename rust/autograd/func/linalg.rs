//! Differentiable matmul with numpy's rules (1-D operands, batch broadcasting).

use super::elementwise::mul;
use super::shape::{permute, reshape};
use crate::autograd::graph::{needs_grad, record, Grads, Saved};
use crate::core::{Result, Tensor};

fn mt(x: &Tensor) -> Result<Tensor> {
    let nd = x.ndim() as i64;
    let mut axes: Vec<i64> = (0..nd).collect();
    axes.swap((nd - 2) as usize, (nd - 1) as usize);
    permute(x, &axes)
}

fn unsqueeze(x: &Tensor, at: i64) -> Result<Tensor> {
    let mut shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    let pos = if at < 0 { shape.len() as i64 + 1 + at } else { at } as usize;
    shape.insert(pos, 1);
    reshape(x, &shape)
}

/// `a @ b`, differentiable: `ga = g @ b^T`, `gb = a^T @ g`, with 1-D operands treated as
/// a row (left) or column (right) and batch dims summed back by the engine.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let r = crate::ops::linalg::matmul(a, b)?;
    if !(needs_grad(&[a, b]) && r.dtype().is_float()) {
        return Ok(r);
    }
    let (sa, sb) = (Saved::input(a), Saved::input(b));
    let (a1, b1) = (a.ndim() == 1, b.ndim() == 1);
    let (wa, wb) = (a.requires_grad(), b.requires_grad());
    record(
        "MatmulBackward",
        &[a, b],
        &[&r],
        Box::new(move |g: Grads| {
            let g = g.into_iter().next().flatten().expect("one output");
            let (a, b) = (sa.get()?, sb.get()?);
            if a1 && b1 {
                // Dot product: the gradient is 0-d.
                return Ok(vec![Some(mul(&g, &b)?), Some(mul(&g, &a)?)]);
            }
            let a2 = if a1 { unsqueeze(&a, 0)? } else { a };
            let b2 = if b1 { unsqueeze(&b, -1)? } else { b };
            let mut g2 = g;
            if a1 {
                g2 = unsqueeze(&g2, -2)?;
            }
            if b1 {
                g2 = unsqueeze(&g2, -1)?;
            }
            let ga = if wa {
                let ga = matmul(&g2, &mt(&b2)?)?;
                Some(if a1 { squeeze_at(&ga, -2)? } else { ga })
            } else {
                None
            };
            let gb = if wb {
                let gb = matmul(&mt(&a2)?, &g2)?;
                Some(if b1 { squeeze_at(&gb, -1)? } else { gb })
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    );
    Ok(r)
}

fn squeeze_at(x: &Tensor, at: i64) -> Result<Tensor> {
    let mut shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    let pos = if at < 0 { shape.len() as i64 + at } else { at } as usize;
    shape.remove(pos);
    reshape(x, &shape)
}

/// Singular values, differentiable once: `d s_i / d x = u_i v_i^T`, so the gradient is
/// `u diag(g) v^T`. The singular vectors are constants of that formula, so it cannot be
/// differentiated again: `create_graph=True` through it raises instead of giving a
/// wrong second derivative.
pub fn svdvals(x: &Tensor) -> Result<Tensor> {
    use crate::ops::copy::astype;
    use crate::ops::elementwise::{binary as raw_binary, Operand};
    use crate::ops::table::BinaryOp;
    if !needs_grad(&[x]) {
        return crate::ops::svd::svdvals(x);
    }
    let (s, u, v) = crate::ops::svd::svd_factors(x)?;
    let r = astype(&s, x.dtype())?;
    let dtype = x.dtype();
    record(
        "LinalgSvdvalsBackward",
        &[x],
        &[&r],
        Box::new(move |g: Grads| {
            if crate::autograd::mode::is_enabled() {
                crate::bail!(
                    Runtime,
                    "svdvals (used by matrix_norm 'nuc' and ord=+-2): gradients of gradients are not supported"
                );
            }
            // The factors' dtype: float64 on the CPU, float32 on the GPU.
            let g = astype(&g.into_iter().next().flatten().expect("one output"), u.dtype())?;
            let nd = g.ndim() as i64;
            let mut gs: Vec<i64> = g.shape().iter().map(|&d| d as i64).collect();
            gs.insert((nd - 1) as usize, 1);
            let ug = raw_binary(BinaryOp::Mul, Operand::Tensor(u.clone()), Operand::Tensor(g.reshape(&gs)?), None)?;
            let nv = v.ndim();
            let mut axes: Vec<i64> = (0..nv as i64).collect();
            axes.swap(nv - 2, nv - 1);
            let gx = crate::ops::linalg::matmul(&ug, &v.permute(&axes)?)?;
            Ok(vec![Some(astype(&gx, dtype)?)])
        }),
    );
    Ok(r)
}
