//! PyTorch's `F.pad`: constant padding of any dtype and any number of trailing dims
//! (negative pads crop), and reflect / replicate / circular padding of the last 1-3 dims
//! of a `(C, *spatial)` or `(N, C, *spatial)` tensor, plus the backward primitive.
//! Pads are given PyTorch's way: last dim first, `(left, right, top, bottom, ...)`.

use crate::bail;
use crate::core::{DType, Result, Scalar, Tensor};
use crate::cpu::pool::Real;
use crate::cpu::resample;
use crate::ops::copy::{assign, contiguous};
use crate::ops::create::full_on;
use crate::ops::pool::{check_table, data, data_mut, finish, float_input, three};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    Constant,
    Reflect,
    Replicate,
    Circular,
}

impl PadMode {
    pub fn parse(s: &str) -> Result<PadMode> {
        Ok(match s {
            "constant" => PadMode::Constant,
            "reflect" => PadMode::Reflect,
            "replicate" => PadMode::Replicate,
            "circular" => PadMode::Circular,
            _ => bail!(Value, "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {s:?}"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PadMode::Constant => "constant",
            PadMode::Reflect => "reflect",
            PadMode::Replicate => "replicate",
            PadMode::Circular => "circular",
        }
    }
}

/// One padded dim: its index and the (left, right) pads.
#[derive(Clone, Copy, Debug)]
struct Side {
    dim: usize,
    l: i64,
    r: i64,
    out: usize,
}

/// The padded dims, outermost first, with their output sizes.
fn sides(name: &str, shape: &[usize], pad: &[i64]) -> Result<Vec<Side>> {
    let nd = shape.len();
    if pad.len() % 2 != 0 {
        bail!(Value, "{name}: the padding needs (left, right) pairs, got {} values {pad:?}", pad.len());
    }
    if pad.len() / 2 > nd {
        bail!(Value, "{name}: {} (left, right) pairs {pad:?} for a {nd}-D input of shape {shape:?}", pad.len() / 2);
    }
    let mut out: Vec<Side> = Vec::with_capacity(pad.len() / 2);
    for i in (0..pad.len() / 2).rev() {
        let dim = nd - 1 - i;
        let (l, r) = (pad[2 * i], pad[2 * i + 1]);
        let size = shape[dim] as i128 + l as i128 + r as i128;
        if size < 0 {
            bail!(Value, "{name}: padding ({l}, {r}) of dim {dim} (size {}) gives a negative size {size}", shape[dim]);
        }
        out.push(Side { dim, l, r, out: size as usize });
    }
    Ok(out)
}

fn out_shape(shape: &[usize], sides: &[Side]) -> Vec<usize> {
    let mut s = shape.to_vec();
    for sd in sides {
        s[sd.dim] = sd.out;
    }
    s
}

fn constant(x: &Tensor, pad: &[i64], value: Scalar) -> Result<Tensor> {
    let sides = sides("pad", x.shape(), pad)?;
    let out = full_on(&out_shape(x.shape(), &sides), value, x.dtype(), x.device())?;
    let (mut src, mut dst) = (x.clone(), out.clone());
    for sd in &sides {
        // Negative pads crop the input; positive ones offset it in the output.
        let (cl, cr) = ((-sd.l).max(0), (-sd.r).max(0));
        let len = x.shape()[sd.dim] as i64 - cl - cr;
        if len <= 0 {
            return Ok(out);
        }
        src = src.narrow(sd.dim as i64, cl, len as usize)?;
        dst = dst.narrow(sd.dim as i64, sd.l.max(0), len as usize)?;
    }
    if dst.numel() > 0 {
        assign(&dst, &src)?;
    }
    Ok(out)
}

/// The source index of every output position along one padded dim.
fn index_map(mode: PadMode, n: usize, sd: Side) -> Result<Vec<usize>> {
    let (l, r, dim) = (sd.l, sd.r, sd.dim);
    let ni = n as i64;
    match mode {
        PadMode::Reflect if l >= ni || r >= ni => {
            bail!(Value, "pad: reflect padding ({l}, {r}) must be less than the size {n} of dim {dim}")
        }
        PadMode::Replicate if n == 0 && sd.out > 0 => {
            bail!(Value, "pad: replicate padding needs a non-empty dim {dim} to copy from")
        }
        _ => {}
    }
    check_table("pad", sd.out, std::mem::size_of::<usize>())?;
    // Circular padding wraps the cropped input (PyTorch crops first, then wraps).
    let (cs, m) = ((-l).max(0), ni - (-l).max(0) - (-r).max(0));
    if mode == PadMode::Circular && (l > m.max(0) || r > m.max(0)) {
        bail!(Value, "pad: circular padding ({l}, {r}) wraps around dim {dim} (size {n}) more than once");
    }
    Ok((0..sd.out as i64)
        .map(|o| {
            let i = o - l;
            let j = match mode {
                PadMode::Reflect => {
                    if i < 0 {
                        -i
                    } else if i >= ni {
                        2 * (ni - 1) - i
                    } else {
                        i
                    }
                }
                PadMode::Circular => cs + (o - l.max(0)).rem_euclid(m.max(1)),
                _ => i,
            };
            j.clamp(0, (ni - 1).max(0)) as usize
        })
        .collect())
}

/// A checked non-constant pad: the input's padded dims and one index map per axis,
/// both over three axes, and the output shape.
struct Plan {
    input: [usize; 3],
    maps: Vec<Vec<usize>>,
    shape: Vec<usize>,
}

fn plan(mode: PadMode, shape: &[usize], pad: &[i64]) -> Result<Plan> {
    let name = "pad";
    let k = pad.len() / 2;
    let nd = shape.len();
    if pad.len() % 2 != 0 || !(1..=3).contains(&k) || (nd != k + 1 && nd != k + 2) {
        bail!(
            Value,
            "{name}: {} padding takes 1 to 3 (left, right) pairs for the last dims of a (C, *spatial) or \
             (N, C, *spatial) input, got {pad:?} for shape {shape:?}",
            mode.name()
        );
    }
    let sides = sides(name, shape, pad)?;
    let mut maps = vec![vec![0usize]; 3 - k];
    for sd in &sides {
        maps.push(index_map(mode, shape[sd.dim], *sd)?);
    }
    Ok(Plan { input: three(&shape[nd - k..], 1), maps, shape: out_shape(shape, &sides) })
}

fn gather_bits<T: Copy + Send + Sync>(x: &Tensor, input: [usize; 3], maps: &[Vec<usize>], out: &Tensor) {
    // SAFETY: x is contiguous with elements of T's size; out is fresh.
    unsafe { resample::gather(data::<T>(x), input, [&maps[0], &maps[1], &maps[2]], data_mut::<T>(out)) }
}

/// PyTorch's `F.pad(x, pad, mode, value)`. Constant mode works for every dtype and any
/// number of padded dims; the other modes copy elements, so they too take every dtype,
/// for the last 1-3 dims of a `(C, *spatial)` / `(N, C, *spatial)` input. Reflect needs
/// each pad smaller than its dim; circular may wrap at most once.
pub fn pad(x: &Tensor, pad: &[i64], mode: PadMode, value: Scalar) -> Result<Tensor> {
    if mode == PadMode::Constant {
        return constant(x, pad, value);
    }
    let Plan { input, maps, shape } = plan(mode, x.shape(), pad)?;
    if x.device().is_gpu() {
        return crate::ops::image_gpu::pad(x, input, &maps, &shape);
    }
    let xc = contiguous(x)?;
    let out = Tensor::for_overwrite(&shape, x.dtype())?;
    if out.numel() == 0 {
        return Ok(out);
    }
    match x.dtype().size() {
        1 => gather_bits::<u8>(&xc, input, &maps, &out),
        2 => gather_bits::<u16>(&xc, input, &maps, &out),
        4 => gather_bits::<u32>(&xc, input, &maps, &out),
        _ => gather_bits::<u64>(&xc, input, &maps, &out),
    }
    Ok(out)
}

fn scatter_with<F: Real>(g: &Tensor, input: [usize; 3], maps: &[Vec<usize>], shape: &[usize]) -> Result<Tensor> {
    let gin = Tensor::zeros(shape, F::DTYPE)?;
    // SAFETY: g contiguous F, gin fresh.
    unsafe { resample::scatter_add(data::<F>(g), input, [&maps[0], &maps[1], &maps[2]], data_mut::<F>(&gin)) };
    Ok(gin)
}

/// Backward of [`pad`]: the gradient of the input of shape `input_shape` given the
/// gradient `grad_out` of the padded output. Constant mode crops (and zero-fills what a
/// negative pad cropped away); the other modes add every output gradient into the input
/// element it was copied from.
pub fn pad_backward(grad_out: &Tensor, input_shape: &[usize], pad: &[i64], mode: PadMode) -> Result<Tensor> {
    let name = "pad_backward";
    let expected = match mode {
        PadMode::Constant => out_shape(input_shape, &sides(name, input_shape, pad)?),
        _ => plan(mode, input_shape, pad)?.shape,
    };
    if grad_out.shape() != expected {
        bail!(
            Value,
            "{name}: grad_out of shape {:?} is not the padded shape {expected:?} of input {input_shape:?}",
            grad_out.shape()
        );
    }
    if mode == PadMode::Constant {
        let neg: Vec<i64> = pad.iter().map(|&p| -p).collect();
        return constant(grad_out, &neg, Scalar::Int(0));
    }
    let Plan { input, maps, .. } = plan(mode, input_shape, pad)?;
    if grad_out.device().is_gpu() {
        return crate::ops::image_gpu::pad_backward(grad_out, input, &maps, input_shape);
    }
    let g = float_input(grad_out, name)?;
    let out = match g.dtype() {
        DType::F64 => scatter_with::<f64>(&g, input, &maps, input_shape)?,
        _ => scatter_with::<f32>(&g, input, &maps, input_shape)?,
    };
    finish(out, grad_out.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::copy::to_f64_vec;

    fn row(v: &[f64]) -> Tensor {
        Tensor::from_vec(v, &[1, v.len()]).unwrap()
    }

    #[test]
    fn modes_1d() {
        let x = row(&[1., 2., 3.]);
        let get = |m, p: &[i64]| to_f64_vec(&pad(&x, p, m, Scalar::Float(9.0)).unwrap()).unwrap();
        assert_eq!(get(PadMode::Constant, &[1, 2]), vec![9., 1., 2., 3., 9., 9.]);
        assert_eq!(get(PadMode::Constant, &[-1, 1]), vec![2., 3., 9.]);
        assert_eq!(get(PadMode::Reflect, &[2, 2]), vec![3., 2., 1., 2., 3., 2., 1.]);
        assert_eq!(get(PadMode::Replicate, &[2, 1]), vec![1., 1., 1., 2., 3., 3.]);
        assert_eq!(get(PadMode::Circular, &[2, 3]), vec![2., 3., 1., 2., 3., 1., 2., 3.]);
        assert_eq!(get(PadMode::Circular, &[-1, 1]), vec![2., 3., 2.]);
        assert!(pad(&x, &[3, 0], PadMode::Reflect, Scalar::Int(0)).is_err());
    }

    #[test]
    fn backward_accumulates() {
        let g = row(&[1.; 7]);
        let gin = pad_backward(&g, &[1, 3], &[2, 2], PadMode::Reflect).unwrap();
        assert_eq!(to_f64_vec(&gin).unwrap(), vec![2., 3., 2.]);
        let g = row(&[1., 2., 3.]);
        let gin = pad_backward(&g, &[1, 3], &[-1, 1], PadMode::Constant).unwrap();
        assert_eq!(to_f64_vec(&gin).unwrap(), vec![0., 1., 2.]);
    }
}
