//! Pooling at the tensor level (max, average and adaptive, over 1, 2 or 3 spatial
//! dims) and the backward primitives autograd calls. Inputs are `(N, C, *spatial)` or
//! unbatched `(C, *spatial)` in any layout; checks and messages follow PyTorch. The
//! kernels (`cpu::pool`) see B contiguous planes padded to three spatial axes.

use crate::bail;
use crate::core::{DType, Result, Tensor};
use crate::cpu::pool::{self as k, Divisor, PoolMax, Real, Win, Windows};
use crate::ops::copy::{astype, contiguous};
use crate::ops::image_gpu as gpu;
use crate::with_dtype;

// ---- helpers shared by the image ops (pool, pad, interpolate) -------------------------

/// `x` as a contiguous tensor in the dtype float kernels compute in: float64 stays,
/// float32/float16/bfloat16 run in float32. Other dtypes are a TypeError.
pub(crate) fn float_input(x: &Tensor, name: &str) -> Result<Tensor> {
    match x.dtype() {
        DType::F64 | DType::F32 => contiguous(x),
        DType::F16 | DType::BF16 => astype(x, DType::F32),
        d => bail!(Type, "{name}: needs a floating-point tensor, got {d}"),
    }
}

/// Casts a float32/float64 result back to the caller's dtype.
pub(crate) use crate::ops::f16_gpu::narrow as finish;

/// The elements of a contiguous tensor of element type `T`.
///
/// # Safety
/// `t` must be contiguous, hold `T`, and not be written while the slice lives.
pub(crate) unsafe fn data<T>(t: &Tensor) -> &[T] {
    if t.numel() == 0 {
        return &[];
    }
    std::slice::from_raw_parts(t.data_ptr() as *const T, t.numel())
}

/// The elements of a fresh contiguous tensor, for a kernel to write.
///
/// # Safety
/// `t` must be contiguous, hold `T`, and have no other reader or writer meanwhile.
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn data_mut<T>(t: &Tensor) -> &mut [T] {
    if t.numel() == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, t.numel())
}

/// Errors (MemoryError) unless a table of `n` entries of `bytes` each can be allocated,
/// so that absurd sizes fail cleanly instead of aborting the process on allocation.
pub(crate) fn check_table(name: &str, n: usize, bytes: usize) -> Result<()> {
    let total = n.checked_mul(bytes).filter(|&t| t <= isize::MAX as usize);
    match total {
        Some(t) if Vec::<u8>::new().try_reserve_exact(t).is_ok() => Ok(()),
        _ => bail!(OutOfMemory, "{name}: a dim of {n} elements is too large"),
    }
}

/// `v` left-padded with `fill` to three axes (D, H, W).
pub(crate) fn three<T: Copy>(v: &[T], fill: T) -> [T; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// How a shape of `(C, *spatial)` or `(N, C, *spatial)` is described in messages.
pub(crate) fn layout_names(k: usize) -> (&'static str, &'static str) {
    match k {
        1 => ("(C, L)", "(N, C, L)"),
        2 => ("(C, H, W)", "(N, C, H, W)"),
        _ => ("(C, D, H, W)", "(N, C, D, H, W)"),
    }
}

/// Splits a pooling input's shape into batch dims and `k` spatial dims: `(C, *spatial)`
/// or `(N, C, *spatial)`, every non-batch dim non-empty (PyTorch's rule).
fn split(name: &str, shape: &[usize], k: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let (one, two) = layout_names(k);
    if !(1..=3).contains(&k) || (shape.len() != k + 1 && shape.len() != k + 2) {
        bail!(Value, "{name}: expected a {}-D {one} or {}-D {two} input, got shape {shape:?}", k + 1, k + 2);
    }
    let first = shape.len() - k - 1;
    if shape[first..].contains(&0) {
        bail!(Value, "{name}: expected non-empty channel and spatial dims (a batch dim may be 0), got shape {shape:?}");
    }
    let at = shape.len() - k;
    Ok((shape[..at].to_vec(), shape[at..].to_vec()))
}

/// The number of spatial dims a backward call handles when the caller does not say:
/// PyTorch's 2-D convention for 3-D and 4-D shapes, 1-D for 2-D, 3-D for 5-D.
fn infer_spatial(ndim: usize) -> usize {
    match ndim {
        0..=2 => 1,
        3 | 4 => 2,
        _ => 3,
    }
}

/// One pooling's checked geometry: batch dims, spatial input/output sizes and the
/// per-axis window tables (padded to three axes with [`Win::UNIT`]).
pub struct Geometry {
    batch: Vec<usize>,
    input: [usize; 3],
    out: Vec<usize>,
    wins: [Vec<Win>; 3],
}

impl Geometry {
    fn tables(&self) -> [&[Win]; 3] {
        [&self.wins[0], &self.wins[1], &self.wins[2]]
    }
    fn windows(&self) -> Windows<'_> {
        Windows { input: self.input, wins: [&self.wins[0], &self.wins[1], &self.wins[2]] }
    }
    fn out_shape(&self) -> Vec<usize> {
        [self.batch.as_slice(), self.out.as_slice()].concat()
    }
    fn in_shape(&self) -> Vec<usize> {
        let k = self.out.len();
        [self.batch.as_slice(), &self.input[3 - k..]].concat()
    }
    fn from_tables(batch: Vec<usize>, spatial: &[usize], tables: Vec<Vec<Win>>) -> Geometry {
        let out = tables.iter().map(|t| t.len()).collect();
        let mut wins: [Vec<Win>; 3] = [vec![Win::UNIT], vec![Win::UNIT], vec![Win::UNIT]];
        let off = 3 - tables.len();
        for (a, t) in tables.into_iter().enumerate() {
            wins[off + a] = t;
        }
        Geometry { batch, input: three(spatial, 1), out, wins }
    }
}

/// Per-axis pooling parameters as given (kernel, stride, padding, dilation).
#[derive(Clone, Debug)]
pub struct PoolArgs<'a> {
    pub kernel: &'a [i64],
    /// Empty means "same as kernel" (PyTorch's `stride=None`).
    pub stride: &'a [i64],
    pub padding: &'a [i64],
    pub dilation: &'a [i64],
    pub ceil_mode: bool,
}

/// [`PoolArgs`] that own their values, for keeping in a backward closure.
#[derive(Clone, Debug, Default)]
pub struct PoolSpec {
    pub kernel: Vec<i64>,
    pub stride: Vec<i64>,
    pub padding: Vec<i64>,
    pub dilation: Vec<i64>,
    pub ceil_mode: bool,
}

impl PoolSpec {
    pub fn args(&self) -> PoolArgs<'_> {
        PoolArgs {
            kernel: &self.kernel,
            stride: &self.stride,
            padding: &self.padding,
            dilation: &self.dilation,
            ceil_mode: self.ceil_mode,
        }
    }
}

fn geometry(name: &str, shape: &[usize], a: &PoolArgs<'_>) -> Result<Geometry> {
    let k = a.kernel.len();
    if !(1..=3).contains(&k) {
        bail!(Value, "{name}: kernel_size needs 1 to 3 values, got {:?}", a.kernel);
    }
    let stride = if a.stride.is_empty() { a.kernel } else { a.stride };
    for (what, v) in [("stride", stride), ("padding", a.padding), ("dilation", a.dilation)] {
        if v.len() != k {
            bail!(Value, "{name}: {what} {v:?} needs {k} values, one per spatial dim of kernel_size {:?}", a.kernel);
        }
    }
    let (batch, spatial) = split(name, shape, k)?;
    let positive = |what: &str, v: &[i64]| -> Result<Vec<usize>> {
        if v.iter().any(|&x| x <= 0) {
            bail!(Value, "{name}: {what} must be positive, got {v:?}");
        }
        Ok(v.iter().map(|&x| x as usize).collect())
    };
    let kernel = positive("kernel_size", a.kernel)?;
    let stride = positive("stride", stride)?;
    let dilation = positive("dilation", a.dilation)?;
    if a.padding.iter().any(|&p| p < 0) {
        bail!(Value, "{name}: padding must be non-negative, got {:?}", a.padding);
    }
    let padding: Vec<usize> = a.padding.iter().map(|&p| p as usize).collect();
    if padding.iter().zip(&kernel).any(|(&p, &kk)| p > kk / 2) {
        bail!(Value, "{name}: padding {:?} must be at most half of kernel_size {:?}", a.padding, a.kernel);
    }
    let mut tables = Vec::with_capacity(k);
    let mut outs = Vec::with_capacity(k);
    for ax in 0..k {
        let reach = (kernel[ax] as u128 - 1) * dilation[ax] as u128 + 1;
        if reach > i64::MAX as u128 {
            bail!(Value, "{name}: kernel_size {:?} with dilation {:?} is too large", a.kernel, a.dilation);
        }
        let o = k::pool_out_size(spatial[ax], kernel[ax], stride[ax], padding[ax], dilation[ax], a.ceil_mode);
        outs.push(o);
    }
    if outs.iter().any(|&o| o < 1) {
        bail!(
            Value,
            "{name}: input of spatial size {spatial:?} is too small for kernel_size {:?} (padding {:?}, dilation {:?}): \
             the output size would be {outs:?}",
            a.kernel,
            a.padding,
            a.dilation
        );
    }
    for ax in 0..k {
        check_table(name, outs[ax] as usize, std::mem::size_of::<Win>())?;
        tables.push(k::pool_windows(spatial[ax], outs[ax] as usize, kernel[ax], stride[ax], padding[ax], dilation[ax]));
    }
    Ok(Geometry::from_tables(batch, &spatial, tables))
}

fn adaptive_geometry(name: &str, shape: &[usize], output_size: &[Option<usize>]) -> Result<Geometry> {
    let k = output_size.len();
    let (batch, spatial) = split(name, shape, k)?;
    let out: Vec<usize> = (0..k).map(|a| output_size[a].unwrap_or(spatial[a])).collect();
    for &o in &out {
        check_table(name, o, std::mem::size_of::<Win>())?;
    }
    let tables = (0..k).map(|a| k::adaptive_windows(spatial[a], out[a])).collect();
    Ok(Geometry::from_tables(batch, &spatial, tables))
}

fn pool_name(kind: &str, k: usize) -> String {
    format!("{kind}{k}d")
}

// ---- max pooling ------------------------------------------------------------------------

fn max_with<T: PoolMax>(x: &Tensor, g: &Geometry) -> Result<(Tensor, Tensor)> {
    let shape = g.out_shape();
    let out = Tensor::for_overwrite(&shape, x.dtype())?;
    let idx = Tensor::for_overwrite(&shape, DType::I64)?;
    // SAFETY: x is contiguous of dtype T; out/idx are fresh contiguous tensors.
    unsafe { k::max_pool(data::<T>(x), g.windows(), data_mut::<T>(&out), data_mut::<i64>(&idx)) };
    Ok((out, idx))
}

fn max_run(name: &str, x: &Tensor, g: &Geometry) -> Result<(Tensor, Tensor)> {
    if x.dtype() == DType::Bool {
        bail!(Type, "{name}: bool tensors are not supported; convert to uint8 first");
    }
    if x.device().is_gpu() {
        return gpu::max_pool(x, g.input, g.tables(), &g.out_shape());
    }
    let x = contiguous(x)?;
    with_dtype!(x.dtype(), T => max_with::<T>(&x, g))
}

/// Max pooling over the last `kernel.len()` (1-3) dims of `(N, C, *spatial)` or
/// `(C, *spatial)`, PyTorch's `max_pool{1,2,3}d`. Returns the values (any dtype but bool)
/// and int64 indices: the flat position of each maximum within its input plane
/// (`d*H*W + h*W + w`). A NaN in the window wins.
pub fn max_pool(x: &Tensor, args: &PoolArgs<'_>) -> Result<(Tensor, Tensor)> {
    let name = pool_name("max_pool", args.kernel.len());
    let g = geometry(&name, x.shape(), args)?;
    max_run(&name, x, &g)
}

/// PyTorch's `adaptive_max_pool{1,2,3}d`: output `o` pools `[floor(o*in/out),
/// ceil((o+1)*in/out))` along each axis; `None` keeps that axis's size. Values and
/// indices as [`max_pool`].
pub fn adaptive_max_pool(x: &Tensor, output_size: &[Option<usize>]) -> Result<(Tensor, Tensor)> {
    let name = pool_name("adaptive_max_pool", output_size.len());
    let g = adaptive_geometry(&name, x.shape(), output_size)?;
    max_run(&name, x, &g)
}

fn max_backward_with<F: Real>(grad: &Tensor, idx: &Tensor, shape: &[usize], plane: usize) -> Result<Tensor> {
    let gin = Tensor::zeros(shape, F::DTYPE)?;
    // SAFETY: grad is contiguous F, idx contiguous int64, gin fresh.
    unsafe { k::max_pool_backward(data::<F>(grad), data::<i64>(idx), plane, data_mut::<F>(&gin)) };
    Ok(gin)
}

/// Backward of max pooling (max and adaptive max, any number of spatial dims): a zero
/// tensor of `input_shape` into which each element of `grad_out` is added at the
/// position its `indices` entry names (flat within its input plane; -1, an empty
/// window, contributes nothing). `spatial_dims` says how many trailing dims were pooled;
/// `None` means 2 for 3-D/4-D shapes, 1 for 2-D and 3 for 5-D.
pub fn max_pool_backward(
    grad_out: &Tensor,
    indices: &Tensor,
    input_shape: &[usize],
    spatial_dims: Option<usize>,
) -> Result<Tensor> {
    let name = "max_pool_backward";
    let gpu_run = crate::ops::device::common_device(name, &[grad_out, indices])?.is_gpu();
    let k = spatial_dims.unwrap_or_else(|| infer_spatial(input_shape.len()));
    let (batch, spatial) = split(name, input_shape, k)?;
    let nb = batch.len();
    if grad_out.ndim() != input_shape.len() || grad_out.shape()[..nb] != batch[..] {
        bail!(
            Value,
            "{name}: grad_out of shape {:?} does not match input shape {input_shape:?} ({k} spatial dims)",
            grad_out.shape()
        );
    }
    if indices.shape() != grad_out.shape() {
        bail!(Value, "{name}: indices of shape {:?} differ from grad_out's {:?}", indices.shape(), grad_out.shape());
    }
    if !indices.dtype().is_int() {
        bail!(Type, "{name}: indices must be an integer tensor, got {}", indices.dtype());
    }
    if gpu_run {
        // Indices are not range-checked here (that would read them back); one outside
        // the plane matches no input element and contributes nothing.
        let out = three(&grad_out.shape()[nb..], 1);
        return gpu::max_pool_backward(grad_out, indices, three(&spatial, 1), out, None, input_shape);
    }
    let plane: usize = spatial.iter().product();
    let idx = if indices.dtype() == DType::I64 { contiguous(indices)? } else { astype(indices, DType::I64)? };
    // SAFETY: idx is a contiguous int64 tensor.
    let iv = unsafe { data::<i64>(&idx) };
    if let Some(bad) = iv.iter().find(|&&i| i < -1 || i >= plane as i64) {
        bail!(Index, "{name}: index {bad} is out of range for an input plane of {spatial:?} ({plane} elements)");
    }
    let g = float_input(grad_out, name)?;
    let out = match g.dtype() {
        DType::F64 => max_backward_with::<f64>(&g, &idx, input_shape, plane)?,
        _ => max_backward_with::<f32>(&g, &idx, input_shape, plane)?,
    };
    finish(out, grad_out.dtype())
}

/// The windows of a max pooling, kept by autograd so that the GPU backward visits only
/// the outputs whose windows contain each input element (without them it scans the
/// whole output plane; the CPU scatters and never needs them).
#[derive(Clone, Debug)]
pub enum MaxWindows {
    Fixed(PoolSpec),
    Adaptive(Vec<Option<usize>>),
}

impl MaxWindows {
    pub fn spatial_dims(&self) -> usize {
        match self {
            MaxWindows::Fixed(s) => s.kernel.len(),
            MaxWindows::Adaptive(o) => o.len(),
        }
    }
}

/// [`max_pool_backward`] for indices from a max pooling with `windows`.
pub fn max_pool_backward_windows(
    grad_out: &Tensor,
    indices: &Tensor,
    input_shape: &[usize],
    windows: &MaxWindows,
) -> Result<Tensor> {
    let k = windows.spatial_dims();
    if !grad_out.device().is_gpu() {
        return max_pool_backward(grad_out, indices, input_shape, Some(k));
    }
    let name = "max_pool_backward";
    crate::ops::device::common_device(name, &[grad_out, indices])?;
    let g = match windows {
        MaxWindows::Fixed(spec) => geometry(name, input_shape, &spec.args())?,
        MaxWindows::Adaptive(size) => adaptive_geometry(name, input_shape, size)?,
    };
    if grad_out.shape() != g.out_shape() || indices.shape() != grad_out.shape() {
        bail!(
            Value,
            "{name}: grad_out {:?} and indices {:?} do not have the pooled shape {:?}",
            grad_out.shape(),
            indices.shape(),
            g.out_shape()
        );
    }
    let out = three(&g.out, 1);
    gpu::max_pool_backward(grad_out, indices, g.input, out, Some(g.tables()), input_shape)
}

// ---- average pooling --------------------------------------------------------------------

fn avg_with<F: Real>(x: &Tensor, g: &Geometry, div: Divisor) -> Result<Tensor> {
    let out = Tensor::for_overwrite(&g.out_shape(), F::DTYPE)?;
    // SAFETY: x contiguous F, out fresh.
    unsafe { k::avg_pool(data::<F>(x), g.windows(), div, data_mut::<F>(&out)) };
    Ok(out)
}

fn avg_run(name: &str, x: &Tensor, g: &Geometry, div: Divisor) -> Result<Tensor> {
    if x.device().is_gpu() {
        return gpu::avg_pool(x, g.input, g.tables(), div, &g.out_shape());
    }
    let xc = float_input(x, name)?;
    let out = match xc.dtype() {
        DType::F64 => avg_with::<f64>(&xc, g, div)?,
        _ => avg_with::<f32>(&xc, g, div)?,
    };
    finish(out, x.dtype())
}

fn avg_backward_run(name: &str, grad: &Tensor, g: &Geometry, div: Divisor) -> Result<Tensor> {
    if grad.shape() != g.out_shape() {
        bail!(
            Value,
            "{name}: grad_out of shape {:?} does not match the pooled shape {:?} of input {:?}",
            grad.shape(),
            g.out_shape(),
            g.in_shape()
        );
    }
    if grad.device().is_gpu() {
        return gpu::avg_pool_backward(grad, g.input, g.tables(), div, &g.in_shape());
    }
    let gc = float_input(grad, name)?;
    fn go<F: Real>(gc: &Tensor, g: &Geometry, div: Divisor) -> Result<Tensor> {
        let gin = Tensor::zeros(&g.in_shape(), F::DTYPE)?;
        // SAFETY: gc contiguous F, gin fresh.
        unsafe { k::avg_pool_backward(data::<F>(gc), g.windows(), div, data_mut::<F>(&gin)) };
        Ok(gin)
    }
    let out = match gc.dtype() {
        DType::F64 => go::<f64>(&gc, g, div)?,
        _ => go::<f32>(&gc, g, div)?,
    };
    finish(out, grad.dtype())
}

fn divisor(name: &str, count_include_pad: bool, divisor_override: Option<i64>) -> Result<Divisor> {
    Ok(match divisor_override {
        Some(0) => bail!(Value, "{name}: divisor_override must be non-zero"),
        Some(d) => Divisor::Fixed(d as f64),
        None if count_include_pad => Divisor::Extent,
        None => Divisor::Count,
    })
}

/// Average pooling, PyTorch's `avg_pool{1,2,3}d` (floats; half types accumulate in
/// float32). The divisor is `divisor_override` if given, else the window size clipped to
/// the padded input (`count_include_pad`) or the number of input elements it covers.
pub fn avg_pool(
    x: &Tensor,
    args: &PoolArgs<'_>,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> Result<Tensor> {
    let name = pool_name("avg_pool", args.kernel.len());
    let args = PoolArgs { dilation: &[1; 3][..args.kernel.len().min(3)], ..args.clone() };
    let g = geometry(&name, x.shape(), &args)?;
    avg_run(&name, x, &g, divisor(&name, count_include_pad, divisor_override)?)
}

/// Backward of [`avg_pool`] with the same arguments: each element of `grad_out` (of the
/// pooled shape), divided like the forward, is added to every input element of its window.
pub fn avg_pool_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    args: &PoolArgs<'_>,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> Result<Tensor> {
    let name = "avg_pool_backward";
    let args = PoolArgs { dilation: &[1; 3][..args.kernel.len().min(3)], ..args.clone() };
    let g = geometry(name, input_shape, &args)?;
    avg_backward_run(name, grad_out, &g, divisor(name, count_include_pad, divisor_override)?)
}

/// PyTorch's `adaptive_avg_pool{1,2,3}d`: output `o` averages `[floor(o*in/out),
/// ceil((o+1)*in/out))` along each axis; `None` keeps that axis's size.
pub fn adaptive_avg_pool(x: &Tensor, output_size: &[Option<usize>]) -> Result<Tensor> {
    let name = pool_name("adaptive_avg_pool", output_size.len());
    let g = adaptive_geometry(&name, x.shape(), output_size)?;
    avg_run(&name, x, &g, Divisor::Count)
}

/// Backward of [`adaptive_avg_pool`]. The pooled dims are read off the shapes: every dim
/// from the first one where `grad_out` and `input_shape` differ (an unchanged dim pools
/// as the identity, so the split never changes the result).
pub fn adaptive_avg_pool_backward(grad_out: &Tensor, input_shape: &[usize]) -> Result<Tensor> {
    let name = "adaptive_avg_pool_backward";
    let gs = grad_out.shape();
    if gs.len() != input_shape.len() || gs.is_empty() {
        bail!(Value, "{name}: grad_out of shape {gs:?} does not match input shape {input_shape:?}");
    }
    let first = gs.iter().zip(input_shape).position(|(a, b)| a != b).unwrap_or(gs.len());
    // At most two batch dims: (N, C, *spatial).
    let k = (gs.len() - first).max(gs.len().saturating_sub(2)).max(1);
    if k > 3 {
        bail!(Value, "{name}: grad_out of shape {gs:?} does not match input shape {input_shape:?} (1-3 pooled dims)");
    }
    let out: Vec<Option<usize>> = gs[gs.len() - k..].iter().map(|&d| Some(d)).collect();
    let g = adaptive_geometry(name, input_shape, &out)?;
    avg_backward_run(name, grad_out, &g, Divisor::Count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::copy::to_f64_vec;

    #[test]
    fn max_pool_2d_with_indices() {
        let x = Tensor::from_vec(&(0..16).map(|v| v as f32).collect::<Vec<_>>(), &[1, 1, 4, 4]).unwrap();
        let args = PoolArgs { kernel: &[2, 2], stride: &[], padding: &[0, 0], dilation: &[1, 1], ceil_mode: false };
        let (v, i) = max_pool(&x, &args).unwrap();
        assert_eq!(v.shape(), &[1, 1, 2, 2]);
        assert_eq!(to_f64_vec(&v).unwrap(), vec![5., 7., 13., 15.]);
        assert_eq!(to_f64_vec(&i).unwrap(), vec![5., 7., 13., 15.]);
        let g = Tensor::from_vec(&[1f32, 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
        let gin = max_pool_backward(&g, &i, &[1, 1, 4, 4], None).unwrap();
        let gv = to_f64_vec(&gin).unwrap();
        assert_eq!((gv[5], gv[7], gv[13], gv[15], gv.iter().sum::<f64>()), (1., 2., 3., 4., 10.));
    }

    #[test]
    fn errors_are_values_not_panics() {
        let x = Tensor::zeros(&[1, 1, 2, 2], DType::F32).unwrap();
        let args = PoolArgs { kernel: &[3, 3], stride: &[], padding: &[0, 0], dilation: &[1, 1], ceil_mode: false };
        assert!(matches!(max_pool(&x, &args), Err(crate::core::Error::Value(_))));
        let args = PoolArgs { kernel: &[2, 2], stride: &[0, 1], padding: &[0, 0], dilation: &[1, 1], ceil_mode: false };
        assert!(avg_pool(&x, &args, true, None).is_err());
        let xi = Tensor::zeros(&[1, 2, 2], DType::I32).unwrap();
        assert!(matches!(adaptive_avg_pool(&xi, &[Some(1), Some(1)]), Err(crate::core::Error::Type(_))));
    }
}
