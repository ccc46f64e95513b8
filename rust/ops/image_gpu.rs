//! The GPU branches of the image ops (conv, pool, pad): the ops in `conv.rs`, `pool.rs`
//! and `pad.rs` check shapes and parameters once, for both devices, then hand GPU
//! operands here. This file prepares them for the kernels (float32, contiguous; float16
//! is widened and the result rounded back, as on the CPU) and shapes the results; the
//! launches live in `rust/gpu/backend/image.rs`.

use crate::bail;
use crate::core::{promote, DType, Layout, Result, Tensor};
use crate::cpu::conv::Geom;
use crate::cpu::pool::{Divisor, Win};
use crate::gpu;
use crate::ops::copy::contiguous;
use crate::ops::elementwise::{binary, Operand};
use crate::ops::f16_gpu::{narrow, widen};
use crate::ops::table::BinaryOp;

/// `t` contiguous in float32 (float16 widened, exactly); other dtypes are a TypeError.
fn float32(what: &str, t: &Tensor) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => contiguous(t),
        DType::F16 => widen(t),
        d => bail!(Type, "{what}: GPU tensors must be float32 or float16, got {d}"),
    }
}

/// The dtype of a float op's result: float16 only when every operand is float16.
fn result_dtype(operands: &[Option<&Tensor>]) -> DType {
    operands.iter().flatten().map(|t| t.dtype()).reduce(promote).unwrap_or(DType::F32)
}

/// The kernels' contiguous result viewed as `shape`.
fn shaped(t: Tensor, shape: &[usize]) -> Result<Tensor> {
    Ok(t.with_layout(Layout::contiguous(shape)?))
}

/// `y + bias` with the bias broadcast along the channel dim (dim 1).
fn add_bias(y: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let Some(b) = bias else { return Ok(y) };
    let mut shape = vec![1i64; y.ndim()];
    shape[1] = -1;
    binary(BinaryOp::Add, Operand::Tensor(y), Operand::Tensor(b.reshape(&shape)?), None)
}

pub fn conv(g: &Geom, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, out_shape: &[usize]) -> Result<Tensor> {
    let what = "conv";
    let y = gpu::conv(g, &float32(what, x)?, &float32(what, w)?)?;
    let y = add_bias(shaped(y, out_shape)?, bias.map(|b| float32(what, b)).transpose()?.as_ref())?;
    narrow(y, result_dtype(&[Some(x), Some(w), bias]))
}

/// Also the forward pass of `conv_transpose` (then `bias` may be given).
pub fn conv_backward_input(
    g: &Geom,
    gy: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    input_shape: &[usize],
) -> Result<Tensor> {
    let what = "conv_backward_input";
    let dx = gpu::conv_backward_input(g, &float32(what, gy)?, &float32(what, w)?)?;
    let dx = add_bias(shaped(dx, input_shape)?, bias.map(|b| float32(what, b)).transpose()?.as_ref())?;
    narrow(dx, result_dtype(&[Some(gy), Some(w), bias]))
}

pub fn conv_backward_weight(g: &Geom, gy: &Tensor, x: &Tensor, weight_shape: &[usize]) -> Result<Tensor> {
    let what = "conv_backward_weight";
    let dw = shaped(gpu::conv_backward_weight(g, &float32(what, gy)?, &float32(what, x)?)?, weight_shape)?;
    narrow(dw, result_dtype(&[Some(gy), Some(x)]))
}

/// Max pooling: values in x's dtype (float32, float16, int32, uint32) and int32 indices.
pub fn max_pool(x: &Tensor, input: [usize; 3], wins: [&[Win]; 3], out_shape: &[usize]) -> Result<(Tensor, Tensor)> {
    let (values, indices) = gpu::max_pool(&contiguous(&widen(x)?)?, input, wins, out_shape)?;
    Ok((narrow(values, x.dtype())?, indices))
}

pub fn avg_pool(x: &Tensor, input: [usize; 3], wins: [&[Win]; 3], div: Divisor, out_shape: &[usize]) -> Result<Tensor> {
    narrow(gpu::avg_pool(&float32("avg_pool", x)?, input, wins, div, out_shape)?, x.dtype())
}

pub fn avg_pool_backward(
    grad: &Tensor,
    input: [usize; 3],
    wins: [&[Win]; 3],
    div: Divisor,
    in_shape: &[usize],
) -> Result<Tensor> {
    let gx = gpu::avg_pool_backward(&float32("avg_pool_backward", grad)?, input, wins, div, in_shape)?;
    narrow(gx, grad.dtype())
}

/// Max pooling's backward with indices of any GPU integer dtype (int32 from the GPU's
/// max_pool; uint32 is read as the same bits). `out` is the pooled plane's shape.
pub fn max_pool_backward(
    grad: &Tensor,
    indices: &Tensor,
    input: [usize; 3],
    out: [usize; 3],
    wins: Option<[&[Win]; 3]>,
    in_shape: &[usize],
) -> Result<Tensor> {
    let name = "max_pool_backward";
    let idx = match indices.dtype() {
        DType::I32 => contiguous(indices)?,
        DType::U32 => crate::ops::copy::astype(indices, DType::I32)?,
        d => bail!(Type, "{name}: indices must be an integer tensor, got {d}"),
    };
    narrow(gpu::max_pool_backward(&float32(name, grad)?, &idx, input, out, wins, in_shape)?, grad.dtype())
}

/// Reflect/replicate/circular padding of any GPU dtype (the kernel moves 4-byte words,
/// so float16 travels widened: exact both ways).
pub fn pad(x: &Tensor, input: [usize; 3], maps: &[Vec<usize>], out_shape: &[usize]) -> Result<Tensor> {
    narrow(gpu::pad(&contiguous(&widen(x)?)?, input, maps, out_shape)?, x.dtype())
}

pub fn pad_backward(grad: &Tensor, input: [usize; 3], maps: &[Vec<usize>], in_shape: &[usize]) -> Result<Tensor> {
    narrow(gpu::pad_backward(&float32("pad_backward", grad)?, input, maps, in_shape)?, grad.dtype())
}
