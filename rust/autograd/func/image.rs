//! Differentiable image ops: convolutions, pooling, padding and resampling.
//!
//! Every one of them is linear in each input once the forward pass has fixed what it
//! depends on (max pooling's winners, a convolution's other operand), so each backward
//! is the adjoint linear map, run by the kernels in `crate::ops`. Recording the backward
//! the same way (with the forward as *its* adjoint) makes gradients of gradients work
//! to any order without a second set of formulas.

use std::sync::Arc;

use super::reduce::sum;
use crate::autograd::graph::{needs_grad, record, Grads, Saved};
use crate::bail;
use crate::core::{DType, Result, Scalar, Tensor};
use crate::ops::conv::{self as raw_conv, ConvParams};
use crate::ops::copy::{astype, contiguous};
use crate::ops::index::{self as ix, IndexItem};
use crate::ops::interpolate::{self as raw_interp, InterpMode};
use crate::ops::pad::{self as raw_pad, PadMode};
use crate::ops::pool::{self as raw_pool, MaxWindows, PoolSpec};

/// A linear map of one tensor, replayable inside a backward closure.
type Linear = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

fn one(g: Grads) -> Tensor {
    g.into_iter().next().flatten().expect("one output")
}

/// Records `y`, whose gradient with respect to `x` is the linear map `adj` (the adjoint
/// of `lin`, the map that took `x` to `y` or to `y`'s varying part). The backward is
/// itself recorded with `lin` as its adjoint.
fn record_linear(x: &Tensor, y: &Tensor, name: &'static str, lin: Linear, adj_name: &'static str, adj: Linear) {
    if !(needs_grad(&[x]) && y.dtype().is_float()) {
        return;
    }
    record(
        name,
        &[x],
        &[y],
        Box::new(move |g: Grads| Ok(vec![Some(apply_linear(&one(g), adj_name, adj.clone(), name, lin.clone())?)])),
    );
}

/// `f(x)` for a linear `f` with adjoint `adj`, differentiable to any order.
fn apply_linear(x: &Tensor, name: &'static str, f: Linear, adj_name: &'static str, adj: Linear) -> Result<Tensor> {
    let y = f(x)?;
    record_linear(x, &y, name, f, adj_name, adj);
    Ok(y)
}

// ---- convolutions ------------------------------------------------------------------------

/// `conv` (PyTorch's `convolution`), differentiable in input, weight and bias.
pub fn conv(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: &ConvParams) -> Result<Tensor> {
    let y = raw_conv::conv(x, w, b, p)?;
    record_conv("ConvolutionBackward", x, w, b, &y, p.clone(), false)?;
    Ok(y)
}

/// `conv_transpose`, differentiable in input, weight and bias. Its input gradient is the
/// forward convolution of the output gradient, its weight gradient the convolution's
/// weight gradient with the roles of input and output gradient swapped.
pub fn conv_transpose(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    p: &ConvParams,
    output_padding: &[usize],
) -> Result<Tensor> {
    let y = raw_conv::conv_transpose(x, w, b, p, output_padding)?;
    record_conv("ConvolutionTransposeBackward", x, w, b, &y, p.clone(), true)?;
    Ok(y)
}

fn record_conv(
    name: &'static str,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    y: &Tensor,
    p: ConvParams,
    transposed: bool,
) -> Result<()> {
    let inputs: Vec<&Tensor> = [Some(x), Some(w), b].into_iter().flatten().collect();
    if !(needs_grad(&inputs) && y.dtype().is_float()) {
        return Ok(());
    }
    let want = [x.requires_grad(), w.requires_grad(), b.is_some_and(|b| b.requires_grad())];
    let has_bias = b.is_some();
    let (sx, sw) = (Saved::input(x), Saved::input(w));
    record(
        name,
        &inputs,
        &[y],
        Box::new(move |g: Grads| {
            let g = one(g);
            let (x, w) = (sx.get()?, sw.get()?);
            let (gx, gw) = if transposed {
                transposed_grads(&g, &x, &w, &p, want)?
            } else {
                let gx = want[0].then(|| conv_input_grad(&g, &w, x.shape(), &p)).transpose()?;
                let gw = want[1].then(|| conv_weight_grad(&g, &x, w.shape(), &p)).transpose()?;
                (gx, gw)
            };
            let mut grads = vec![gx, gw];
            if has_bias {
                grads.push(want[2].then(|| bias_grad(&g)).transpose()?);
            }
            Ok(grads)
        }),
    );
    Ok(())
}

fn transposed_grads(
    g: &Tensor,
    x: &Tensor,
    w: &Tensor,
    p: &ConvParams,
    want: [bool; 3],
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    // y = conv_transpose(x, w) is the input gradient of conv(., w), so its adjoints are
    // the forward convolution (for x) and the weight gradient with g as the input.
    let gx = conv(g, w, None, p)?;
    if gx.shape() != x.shape() {
        // Only when output_padding >= stride (possible with dilation > stride): the forward
        // convolution then sees one position more than the transposed one produced.
        bail!(
            Runtime,
            "conv_transpose backward: output_padding reaching past the stride (input {:?}, output gradient {:?}) \
             is not supported",
            x.shape(),
            g.shape()
        );
    }
    let gw = want[1].then(|| conv_weight_grad(x, g, w.shape(), p)).transpose()?;
    Ok((want[0].then_some(gx), gw))
}

/// The bias gradient: the output gradient summed over every dim but the channels.
fn bias_grad(g: &Tensor) -> Result<Tensor> {
    let axes: Vec<i64> = (0..g.ndim() as i64).filter(|&a| a != 1).collect();
    sum(g, Some(&axes), false, None)
}

/// The input gradient of `conv(., w)` for output gradient `g`, differentiable in `g` and
/// `w` (it is linear in each: adjoints `conv` and [`conv_weight_grad`]).
fn conv_input_grad(g: &Tensor, w: &Tensor, input_shape: &[usize], p: &ConvParams) -> Result<Tensor> {
    let r = raw_conv::conv_backward_input(g, w, input_shape, p)?;
    if needs_grad(&[g, w]) && r.dtype().is_float() {
        let (sg, sw, p) = (Saved::input(g), Saved::input(w), p.clone());
        let want = [g.requires_grad(), w.requires_grad()];
        record(
            "ConvolutionBackwardBackward",
            &[g, w],
            &[&r],
            Box::new(move |gg: Grads| {
                let gz = one(gg);
                let (g, w) = (sg.get()?, sw.get()?);
                Ok(vec![
                    want[0].then(|| conv(&gz, &w, None, &p)).transpose()?,
                    want[1].then(|| conv_weight_grad(&g, &gz, w.shape(), &p)).transpose()?,
                ])
            }),
        );
    }
    Ok(r)
}

/// The weight gradient of `conv(x, .)` for output gradient `g`, differentiable in `g`
/// and `x` (adjoints `conv(x, .)` and [`conv_input_grad`]).
fn conv_weight_grad(g: &Tensor, x: &Tensor, weight_shape: &[usize], p: &ConvParams) -> Result<Tensor> {
    let r = raw_conv::conv_backward_weight(g, x, weight_shape, p)?;
    if needs_grad(&[g, x]) && r.dtype().is_float() {
        let (sg, sx, p) = (Saved::input(g), Saved::input(x), p.clone());
        let want = [g.requires_grad(), x.requires_grad()];
        record(
            "ConvolutionBackwardBackward",
            &[g, x],
            &[&r],
            Box::new(move |gg: Grads| {
                let gz = one(gg);
                let (g, x) = (sg.get()?, sx.get()?);
                Ok(vec![
                    want[0].then(|| conv(&x, &gz, None, &p)).transpose()?,
                    want[1].then(|| conv_input_grad(&g, &gz, x.shape(), &p)).transpose()?,
                ])
            }),
        );
    }
    Ok(r)
}

// ---- pooling -----------------------------------------------------------------------------

/// Max pooling (fixed or adaptive windows): values, differentiable, and int64 indices.
fn max_pooled(x: &Tensor, windows: MaxWindows, (y, idx): (Tensor, Tensor)) -> Result<(Tensor, Tensor)> {
    if needs_grad(&[x]) && y.dtype().is_float() {
        let shape = x.shape().to_vec();
        let plane: usize = shape[shape.len() - windows.spatial_dims()..].iter().product();
        let (i1, i2) = (idx.clone(), idx.clone());
        let scatter: Linear = Arc::new(move |g| raw_pool::max_pool_backward_windows(g, &i1, &shape, &windows));
        let gather: Linear = Arc::new(move |gz| gather_planes(gz, &i2, plane));
        record_linear(x, &y, "MaxPoolBackward", gather, "MaxPoolBackwardBackward", scatter);
    }
    Ok((y, idx))
}

/// `gz` read at max pooling's `indices` (flat within each input plane of `plane` elements).
fn gather_planes(gz: &Tensor, indices: &Tensor, plane: usize) -> Result<Tensor> {
    // Read on the host (int64 exists only there); a GPU gradient is gathered from the
    // host positions like any CPU index tensor.
    let idx = astype(&contiguous(&crate::ops::copy::on_cpu(indices)?)?, DType::I64)?;
    let iv = crate::ops::copy::to_f64_vec(&idx)?;
    let batch = gz.numel().checked_div(plane).unwrap_or(0);
    let out_plane = idx.numel().checked_div(batch).unwrap_or(0).max(1);
    let mut lin = Vec::with_capacity(iv.len());
    for (n, &i) in iv.iter().enumerate() {
        if i < 0.0 {
            bail!(Runtime, "max pooling double backward: a window covered no input element");
        }
        lin.push((n / out_plane * plane) as i64 + i as i64);
    }
    let lin = Tensor::from_vec(&lin, idx.shape())?;
    ix::index(&gz.reshape(&[-1])?, &[IndexItem::Tensor(lin)])
}

pub fn max_pool(x: &Tensor, spec: &PoolSpec) -> Result<(Tensor, Tensor)> {
    max_pooled(x, MaxWindows::Fixed(spec.clone()), raw_pool::max_pool(x, &spec.args())?)
}

pub fn adaptive_max_pool(x: &Tensor, output_size: &[Option<usize>]) -> Result<(Tensor, Tensor)> {
    max_pooled(x, MaxWindows::Adaptive(output_size.to_vec()), raw_pool::adaptive_max_pool(x, output_size)?)
}

pub fn avg_pool(x: &Tensor, spec: &PoolSpec, count_include_pad: bool, divisor: Option<i64>) -> Result<Tensor> {
    let shape = x.shape().to_vec();
    let (s1, s2) = (spec.clone(), spec.clone());
    let fwd: Linear = Arc::new(move |x| raw_pool::avg_pool(x, &s1.args(), count_include_pad, divisor));
    let adj: Linear = Arc::new(move |g| raw_pool::avg_pool_backward(g, &shape, &s2.args(), count_include_pad, divisor));
    apply_linear(x, "AvgPoolBackward", fwd, "AvgPoolBackwardBackward", adj)
}

pub fn adaptive_avg_pool(x: &Tensor, output_size: &[Option<usize>]) -> Result<Tensor> {
    let (shape, size) = (x.shape().to_vec(), output_size.to_vec());
    let fwd: Linear = Arc::new(move |x| raw_pool::adaptive_avg_pool(x, &size));
    let adj: Linear = Arc::new(move |g| raw_pool::adaptive_avg_pool_backward(g, &shape));
    apply_linear(x, "AdaptiveAvgPoolBackward", fwd, "AdaptiveAvgPoolBackwardBackward", adj)
}

// ---- padding and resampling --------------------------------------------------------------

/// `F.pad`; constant padding with a non-zero value is affine, so the recorded linear part
/// pads with zeros.
pub fn pad(x: &Tensor, widths: &[i64], mode: PadMode, value: Scalar) -> Result<Tensor> {
    let y = raw_pad::pad(x, widths, mode, value)?;
    let (shape, w1, w2) = (x.shape().to_vec(), widths.to_vec(), widths.to_vec());
    let lin: Linear = Arc::new(move |x| raw_pad::pad(x, &w1, mode, Scalar::Int(0)));
    let adj: Linear = Arc::new(move |g| raw_pad::pad_backward(g, &shape, &w2, mode));
    record_linear(x, &y, "PadBackward", lin, "PadBackwardBackward", adj);
    Ok(y)
}

pub fn interpolate(
    x: &Tensor,
    size: &[usize],
    mode: InterpMode,
    align_corners: Option<bool>,
    scales: Option<&[f64]>,
) -> Result<Tensor> {
    let (shape, size) = (x.shape().to_vec(), size.to_vec());
    let (sc1, sc2) = (scales.map(<[f64]>::to_vec), scales.map(<[f64]>::to_vec));
    let fwd: Linear = Arc::new(move |x| raw_interp::interpolate(x, &size, mode, align_corners, sc1.as_deref()));
    let adj: Linear =
        Arc::new(move |g| raw_interp::interpolate_backward(g, &shape, mode, align_corners, sc2.as_deref()));
    apply_linear(x, "UpsampleBackward", fwd, "UpsampleBackwardBackward", adj)
}
