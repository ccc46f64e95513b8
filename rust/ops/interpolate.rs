//! PyTorch's `F.interpolate` on `(N, C, *spatial)` tensors with 1-3 spatial dims:
//! `nearest` / `nearest-exact` (any dtype), `linear` (3-D), `bilinear` (4-D),
//! `trilinear` (5-D) and `area` (adaptive average pooling), plus the backward primitive.
//! The output size is resolved by the caller; `scales` are the user's scale factors
//! (PyTorch uses them, not the size ratio, for the coordinates when given).

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::cpu::pool::Real;
use crate::cpu::resample::{self, Linear, Tap};
use crate::ops::copy::contiguous;
use crate::ops::f16_gpu::through_f32;
use crate::ops::pool::{
    adaptive_avg_pool, adaptive_avg_pool_backward, check_table, data, data_mut, finish, float_input, three,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpMode {
    Nearest,
    NearestExact,
    Linear,
    Bilinear,
    Trilinear,
    Area,
}

impl InterpMode {
    pub fn parse(s: &str) -> Result<InterpMode> {
        Ok(match s {
            "nearest" => InterpMode::Nearest,
            "nearest-exact" => InterpMode::NearestExact,
            "linear" => InterpMode::Linear,
            "bilinear" => InterpMode::Bilinear,
            "trilinear" => InterpMode::Trilinear,
            "area" => InterpMode::Area,
            "bicubic" => bail!(Value, "interpolate: mode 'bicubic' is not supported yet"),
            _ => bail!(
                Value,
                "interpolate: mode must be 'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear' or \
                 'area', got {s:?}"
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            InterpMode::Nearest => "nearest",
            InterpMode::NearestExact => "nearest-exact",
            InterpMode::Linear => "linear",
            InterpMode::Bilinear => "bilinear",
            InterpMode::Trilinear => "trilinear",
            InterpMode::Area => "area",
        }
    }

    fn is_linear(self) -> bool {
        matches!(self, InterpMode::Linear | InterpMode::Bilinear | InterpMode::Trilinear)
    }
}

/// Checks the combination of input shape, output size, mode, align_corners and scales.
/// Returns align_corners as a bool (False where it does not apply).
fn check(
    name: &str,
    shape: &[usize],
    size: &[usize],
    mode: InterpMode,
    align_corners: Option<bool>,
    scales: Option<&[f64]>,
) -> Result<bool> {
    let nd = shape.len();
    if !(3..=5).contains(&nd) {
        bail!(Value, "{name}: expected a 3-D, 4-D or 5-D (N, C, *spatial) input, got shape {shape:?}");
    }
    let want = match mode {
        InterpMode::Linear => Some(3),
        InterpMode::Bilinear => Some(4),
        InterpMode::Trilinear => Some(5),
        _ => None,
    };
    if let Some(w) = want {
        if nd != w {
            bail!(Value, "{name}: mode '{}' needs a {w}-D input, got {nd}-D shape {shape:?}", mode.name());
        }
    }
    if !mode.is_linear() && align_corners.is_some() {
        bail!(
            Value,
            "{name}: align_corners can only be set with the interpolating modes linear, bilinear and trilinear, \
             not '{}'",
            mode.name()
        );
    }
    let k = nd - 2;
    if size.len() != k {
        bail!(Value, "{name}: the output size {size:?} needs {k} values for input of shape {shape:?}");
    }
    if let Some(s) = scales {
        if s.len() != k {
            bail!(Value, "{name}: scale factors {s:?} need {k} values for input of shape {shape:?}");
        }
        if s.iter().any(|v| !v.is_finite()) {
            bail!(Value, "{name}: scale factors must be finite, got {s:?}");
        }
    }
    for &n in size {
        check_table(name, n, 32)?;
    }
    if shape[2..].contains(&0) || size.contains(&0) {
        bail!(
            Value,
            "{name}: input and output sizes should be greater than 0, got input {:?} and output {size:?}",
            &shape[2..]
        );
    }
    Ok(align_corners.unwrap_or(false))
}

fn scale_at(scales: Option<&[f64]>, a: usize) -> Option<f64> {
    scales.map(|s| s[a])
}

fn nearest_maps(mode: InterpMode, input: &[usize], size: &[usize], scales: Option<&[f64]>) -> Vec<Vec<usize>> {
    let k = input.len();
    let mut maps = vec![vec![0usize]; 3 - k];
    for a in 0..k {
        maps.push(resample::nearest_map(input[a], size[a], scale_at(scales, a), mode == InterpMode::NearestExact));
    }
    maps
}

/// Taps per axis (padded to three) and whether each axis reads two taps.
fn linear_plan<F: Real>(
    input: &[usize],
    size: &[usize],
    align: bool,
    scales: Option<&[f64]>,
) -> (Vec<Vec<Tap<F>>>, [bool; 3]) {
    let k = input.len();
    let mut taps = vec![vec![Tap { i: [0, 0], l: [F::ONE, F::ZERO] }]; 3 - k];
    let mut two = [false; 3];
    for a in 0..k {
        taps.push(resample::linear_taps::<F>(input[a], size[a], align, scale_at(scales, a)));
        two[3 - k + a] = input[a] != size[a];
    }
    (taps, two)
}

fn linear_fwd<F: Real>(x: &Tensor, out_shape: &[usize], align: bool, scales: Option<&[f64]>) -> Result<Tensor> {
    let (input, size) = (&x.shape()[2..], &out_shape[2..]);
    let (taps, two) = linear_plan::<F>(input, size, align, scales);
    let out = Tensor::for_overwrite(out_shape, F::DTYPE)?;
    let p = Linear { input: three(input, 1), taps: [&taps[0], &taps[1], &taps[2]], two };
    // SAFETY: x contiguous F, out fresh.
    unsafe { resample::linear(data::<F>(x), p, data_mut::<F>(&out)) };
    Ok(out)
}

fn linear_bwd<F: Real>(g: &Tensor, input_shape: &[usize], align: bool, scales: Option<&[f64]>) -> Result<Tensor> {
    let (input, size) = (&input_shape[2..], &g.shape()[2..]);
    let (taps, two) = linear_plan::<F>(input, size, align, scales);
    let gin = Tensor::zeros(input_shape, F::DTYPE)?;
    let p = Linear { input: three(input, 1), taps: [&taps[0], &taps[1], &taps[2]], two };
    // SAFETY: g contiguous F, gin fresh.
    unsafe { resample::linear_backward(data::<F>(g), p, data_mut::<F>(&gin)) };
    Ok(gin)
}

fn gather_bits<T: Copy + Send + Sync>(x: &Tensor, input: [usize; 3], maps: &[Vec<usize>], out: &Tensor) {
    // SAFETY: x is contiguous with elements of T's size; out is fresh.
    unsafe { resample::gather(data::<T>(x), input, [&maps[0], &maps[1], &maps[2]], data_mut::<T>(out)) }
}

fn scatter_with<F: Real>(g: &Tensor, input: [usize; 3], maps: &[Vec<usize>], shape: &[usize]) -> Result<Tensor> {
    let gin = Tensor::zeros(shape, F::DTYPE)?;
    // SAFETY: g contiguous F, gin fresh.
    unsafe { resample::scatter_add(data::<F>(g), input, [&maps[0], &maps[1], &maps[2]], data_mut::<F>(&gin)) };
    Ok(gin)
}

/// Taps per axis for the GPU: nearest maps as single taps of weight 1.
fn gpu_taps(
    mode: InterpMode,
    input: &[usize],
    size: &[usize],
    align: bool,
    scales: Option<&[f64]>,
) -> (Vec<Vec<Tap<f32>>>, [bool; 3]) {
    if mode.is_linear() {
        return linear_plan::<f32>(input, size, align, scales);
    }
    let maps = nearest_maps(mode, input, size, scales);
    let taps = maps.iter().map(|m| m.iter().map(|&i| Tap { i: [i, i], l: [1.0, 0.0] }).collect()).collect();
    (taps, [false; 3])
}

/// The GPU forward: nearest modes copy 4-byte words (any GPU dtype; float16 travels
/// widened, exactly); linear modes compute in float32 (float16 widened and the result
/// rounded once, as on the CPU).
fn gpu_forward(
    x: &Tensor,
    out_shape: &[usize],
    mode: InterpMode,
    align: bool,
    scales: Option<&[f64]>,
) -> Result<Tensor> {
    let (input, size) = (&x.shape()[2..], &out_shape[2..]);
    if mode.is_linear() && !matches!(x.dtype(), DType::F32 | DType::F16) {
        bail!(Type, "interpolate ({}): needs a floating-point tensor, got {}", mode.name(), x.dtype());
    }
    through_f32(x, |x| {
        let xc = contiguous(x)?;
        if mode.is_linear() {
            let (taps, two) = linear_plan::<f32>(input, size, align, scales);
            return crate::gpu::resample_linear(&xc, &taps, two, out_shape);
        }
        crate::gpu::resample_nearest(&xc, &nearest_maps(mode, input, size, scales), out_shape)
    })
}

/// The GPU backward: a gather per input element over the outputs that read it.
fn gpu_backward(
    g: &Tensor,
    input_shape: &[usize],
    mode: InterpMode,
    align: bool,
    scales: Option<&[f64]>,
) -> Result<Tensor> {
    if !matches!(g.dtype(), DType::F32 | DType::F16) {
        bail!(Type, "interpolate_backward: needs a floating-point tensor, got {}", g.dtype());
    }
    let (taps, two) = gpu_taps(mode, &input_shape[2..], &g.shape()[2..], align, scales);
    through_f32(g, |g| crate::gpu::resample_backward(&contiguous(g)?, &taps, two, input_shape))
}

/// PyTorch's `F.interpolate(x, size, mode=..., align_corners=...)` with the output's
/// spatial `size` already resolved. `scales` (one per spatial dim) are the scale factors
/// the user gave, if any; like PyTorch, coordinates then use `1/scale` instead of
/// `in/out`. Nearest modes take every dtype; linear modes need floats (half types
/// compute in float32).
pub fn interpolate(
    x: &Tensor,
    size: &[usize],
    mode: InterpMode,
    align_corners: Option<bool>,
    scales: Option<&[f64]>,
) -> Result<Tensor> {
    let name = "interpolate";
    let align = check(name, x.shape(), size, mode, align_corners, scales)?;
    let out_shape: Vec<usize> = [&x.shape()[..2], size].concat();
    let input = &x.shape()[2..];
    if x.device().is_gpu() && mode != InterpMode::Area {
        return gpu_forward(x, &out_shape, mode, align, scales);
    }
    match mode {
        InterpMode::Area => adaptive_avg_pool(x, &size.iter().map(|&s| Some(s)).collect::<Vec<_>>()),
        InterpMode::Nearest | InterpMode::NearestExact => {
            let maps = nearest_maps(mode, input, size, scales);
            let xc = contiguous(x)?;
            let out = Tensor::for_overwrite(&out_shape, x.dtype())?;
            if out.numel() == 0 {
                return Ok(out);
            }
            let in3 = three(input, 1);
            match x.dtype().size() {
                1 => gather_bits::<u8>(&xc, in3, &maps, &out),
                2 => gather_bits::<u16>(&xc, in3, &maps, &out),
                4 => gather_bits::<u32>(&xc, in3, &maps, &out),
                _ => gather_bits::<u64>(&xc, in3, &maps, &out),
            }
            Ok(out)
        }
        _ => {
            let xc = float_input(x, &format!("{name} ({})", mode.name()))?;
            let out = match xc.dtype() {
                DType::F64 => linear_fwd::<f64>(&xc, &out_shape, align, scales)?,
                _ => linear_fwd::<f32>(&xc, &out_shape, align, scales)?,
            };
            finish(out, x.dtype())
        }
    }
}

/// Backward of [`interpolate`] with the same mode, align_corners and scales: the
/// gradient of the input of shape `input_shape` given `grad_out` (shape
/// `(N, C, *size)`). Every output gradient is added to the input elements it was
/// computed from, with the forward's weights.
pub fn interpolate_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    mode: InterpMode,
    align_corners: Option<bool>,
    scales: Option<&[f64]>,
) -> Result<Tensor> {
    let name = "interpolate_backward";
    let gs = grad_out.shape();
    if gs.len() != input_shape.len() || gs.len() < 3 || gs[..2] != input_shape[..2] {
        bail!(Value, "{name}: grad_out of shape {gs:?} does not match input shape {input_shape:?}");
    }
    let size = &gs[2..];
    let align = check(name, input_shape, size, mode, align_corners, scales)?;
    let input = &input_shape[2..];
    if grad_out.device().is_gpu() && mode != InterpMode::Area {
        return gpu_backward(grad_out, input_shape, mode, align, scales);
    }
    match mode {
        InterpMode::Area => adaptive_avg_pool_backward(grad_out, input_shape),
        InterpMode::Nearest | InterpMode::NearestExact => {
            let maps = nearest_maps(mode, input, size, scales);
            let g = float_input(grad_out, name)?;
            let in3 = three(input, 1);
            let out = match g.dtype() {
                DType::F64 => scatter_with::<f64>(&g, in3, &maps, input_shape)?,
                _ => scatter_with::<f32>(&g, in3, &maps, input_shape)?,
            };
            finish(out, grad_out.dtype())
        }
        _ => {
            let g = float_input(grad_out, name)?;
            let out = match g.dtype() {
                DType::F64 => linear_bwd::<f64>(&g, input_shape, align, scales)?,
                _ => linear_bwd::<f32>(&g, input_shape, align, scales)?,
            };
            finish(out, grad_out.dtype())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::copy::to_f64_vec;

    #[test]
    fn nearest_and_bilinear() {
        let x = Tensor::from_vec(&[1f32, 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
        let y = interpolate(&x, &[4, 4], InterpMode::Nearest, None, None).unwrap();
        assert_eq!(&to_f64_vec(&y).unwrap()[..4], &[1., 1., 2., 2.]);
        let y = interpolate(&x, &[3, 3], InterpMode::Bilinear, Some(true), None).unwrap();
        assert_eq!(to_f64_vec(&y).unwrap(), vec![1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.]);
        assert!(interpolate(&x, &[3], InterpMode::Linear, None, None).is_err());
        assert!(interpolate(&x, &[3, 3], InterpMode::Nearest, Some(false), None).is_err());
        let g = Tensor::from_vec(&[1f32; 9], &[1, 1, 3, 3]).unwrap();
        let gin = interpolate_backward(&g, &[1, 1, 2, 2], InterpMode::Bilinear, Some(true), None).unwrap();
        assert_eq!(to_f64_vec(&gin).unwrap().iter().sum::<f64>(), 9.0);
    }
}
