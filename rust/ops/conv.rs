//! Convolutions with PyTorch's semantics: `conv` (1-D/2-D/3-D by the weight's rank),
//! `conv_transpose`, and the two backward primitives the autograd rules call.
//!
//! Layouts are `(N, C, *spatial)` for images and `(C_out, C_in/groups, *kernel)` for conv
//! weights (`(C_in, C_out/groups, *kernel)` for transposed ones). Inputs of any layout are
//! made contiguous first; float16/bfloat16 compute in float32; integer tensors are a
//! TypeError (PyTorch has no integer convolution on CPU); mixed float dtypes promote as in
//! `matmul`.

use crate::bail;
use crate::core::{promote, DType, Result, Tensor};
use crate::cpu::conv::{self as kernels, Algo, Geom};
use crate::ops::copy::{astype, contiguous};
use crate::ops::device::common_device;
use crate::ops::image_gpu as gpu;

/// Whether the operands (all on one device, else a RuntimeError) live on a GPU.
fn on_gpu(what: &str, tensors: &[Option<&Tensor>]) -> Result<bool> {
    let present: Vec<&Tensor> = tensors.iter().flatten().copied().collect();
    Ok(common_device(what, &present)?.is_gpu())
}

/// Stride, padding, dilation and groups of a convolution with `nd` spatial dims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvParams {
    pub stride: Vec<usize>,
    /// `(before, after)` per spatial dim; PyTorch's `padding='same'` can be asymmetric.
    pub padding: Vec<(usize, usize)>,
    pub dilation: Vec<usize>,
    pub groups: usize,
}

/// Padding as the user gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaddingSpec {
    /// No padding.
    Valid,
    /// Output as large as the input (stride 1 only); any odd total goes after.
    Same,
    /// `(before, after)` per dim, or a single pair for all dims.
    Explicit(Vec<(i64, i64)>),
}

impl ConvParams {
    /// Symmetric padding; every slice holds one entry per spatial dim.
    pub fn new(stride: &[usize], padding: &[usize], dilation: &[usize], groups: usize) -> ConvParams {
        ConvParams {
            stride: stride.to_vec(),
            padding: padding.iter().map(|&p| (p, p)).collect(),
            dilation: dilation.to_vec(),
            groups,
        }
    }

    /// Validates user values for `nd` spatial dims (each list holds `nd` entries or one for
    /// all) and resolves `'same'`/`'valid'` against the kernel sizes `kernel`.
    pub fn resolve(
        what: &str,
        kernel: &[usize],
        stride: &[i64],
        padding: &PaddingSpec,
        dilation: &[i64],
        groups: i64,
    ) -> Result<ConvParams> {
        let nd = kernel.len();
        let expand = |name: &str, v: &[i64], min: i64| -> Result<Vec<usize>> {
            let v = match v.len() {
                1 => vec![v[0]; nd],
                n if n == nd => v.to_vec(),
                n => bail!(Value, "{what}: {name} needs 1 or {nd} values for {nd} spatial dims, got {n}: {v:?}"),
            };
            if let Some(bad) = v.iter().find(|&&x| x < min) {
                let rule = if min > 0 { "positive" } else { "non-negative" };
                bail!(Value, "{what}: {name} must be {rule}, got {bad} in {v:?}");
            }
            Ok(v.into_iter().map(|x| x as usize).collect())
        };
        let stride = expand("stride", stride, 1)?;
        let dilation = expand("dilation", dilation, 1)?;
        if groups < 1 {
            bail!(Value, "{what}: groups must be positive, got {groups}");
        }
        let padding = match padding {
            PaddingSpec::Valid => vec![(0, 0); nd],
            PaddingSpec::Same => {
                if stride.iter().any(|&s| s != 1) {
                    bail!(Value, "{what}: padding='same' needs stride 1 (as in PyTorch), got stride {stride:?}");
                }
                (0..nd)
                    .map(|i| {
                        let total = dilation[i] * kernel[i].saturating_sub(1);
                        (total / 2, total - total / 2)
                    })
                    .collect()
            }
            PaddingSpec::Explicit(p) => {
                let p = match p.len() {
                    1 => vec![p[0]; nd],
                    n if n == nd => p.clone(),
                    n => bail!(Value, "{what}: padding needs 1 or {nd} values for {nd} spatial dims, got {n}"),
                };
                if let Some(bad) = p.iter().find(|(a, b)| *a < 0 || *b < 0) {
                    bail!(Value, "{what}: padding must be non-negative, got {bad:?}");
                }
                p.into_iter().map(|(a, b)| (a as usize, b as usize)).collect()
            }
        };
        Ok(ConvParams { stride, padding, dilation, groups: groups as usize })
    }
}

/// The algorithm override for benchmarks and cross-checks: `FERROGRAD_CONV=im2col`.
fn algo() -> Algo {
    match std::env::var("FERROGRAD_CONV").as_deref() {
        Ok("im2col") => Algo::Im2col,
        Ok("direct") => Algo::Direct,
        _ => Algo::Auto,
    }
}

/// Checks the shapes and parameters of a convolution of `input_shape` by `weight_shape`
/// and returns its geometry and output shape.
fn geometry(what: &str, input_shape: &[usize], weight_shape: &[usize], p: &ConvParams) -> Result<(Geom, Vec<usize>)> {
    let wn = weight_shape.len();
    if !(3..=5).contains(&wn) {
        bail!(
            Value,
            "{what}: weight must be 3-D, 4-D or 5-D (C_out, C_in/groups, *kernel), got shape {weight_shape:?}"
        );
    }
    let nd = wn - 2;
    if input_shape.len() != nd + 2 {
        bail!(
            Value,
            "{what}: a {nd}-D convolution needs a {}-D input (N, C, *spatial), got shape {input_shape:?}",
            nd + 2
        );
    }
    if p.stride.len() != nd || p.padding.len() != nd || p.dilation.len() != nd {
        bail!(Value, "{what}: parameters {p:?} do not have {nd} entries each");
    }
    if let Some(s) = p.stride.iter().find(|&&s| s == 0) {
        bail!(Value, "{what}: stride must be positive, got {s} in {:?}", p.stride);
    }
    if let Some(d) = p.dilation.iter().find(|&&d| d == 0) {
        bail!(Value, "{what}: dilation must be positive, got {d} in {:?}", p.dilation);
    }
    let groups = p.groups;
    if groups == 0 {
        bail!(Value, "{what}: groups must be positive, got 0");
    }
    let (n, c_in, c_out) = (input_shape[0], input_shape[1], weight_shape[0]);
    if c_in % groups != 0 || c_out % groups != 0 {
        bail!(
            Value,
            "{what}: groups={groups} must divide both the input channels ({c_in}) and the output channels ({c_out})"
        );
    }
    if weight_shape[1] * groups != c_in {
        bail!(
            Value,
            "{what}: input has {c_in} channels but weight of shape {weight_shape:?} with groups={groups} expects {}",
            weight_shape[1] * groups
        );
    }
    let kernel = &weight_shape[2..];
    if let Some(k) = kernel.iter().find(|&&k| k == 0) {
        bail!(Value, "{what}: kernel sizes must be positive, got {k} in weight shape {weight_shape:?}");
    }
    let mut g = Geom {
        n,
        c_in,
        c_out,
        groups,
        input: [1; 3],
        out: [1; 3],
        kernel: [1; 3],
        stride: [1; 3],
        pad: [0; 3],
        dil: [1; 3],
    };
    let mut out_shape = vec![n, c_out];
    for i in 0..nd {
        let j = 3 - nd + i;
        let size = input_shape[2 + i];
        let (lo, hi) = p.padding[i];
        let extent = p.dilation[i] * (kernel[i] - 1) + 1;
        let padded = size + lo + hi;
        if extent > padded {
            bail!(
                Value,
                "{what}: kernel size {} (dilated to {extent}) is larger than the padded input size {padded} \
                 in spatial dim {i} (input shape {input_shape:?}, padding {:?})",
                kernel[i],
                p.padding[i]
            );
        }
        let o = (padded - extent) / p.stride[i] + 1;
        (g.input[j], g.out[j], g.kernel[j]) = (size, o, kernel[i]);
        (g.stride[j], g.pad[j], g.dil[j]) = (p.stride[i], lo, p.dilation[i]);
        out_shape.push(o);
    }
    Ok((g, out_shape))
}

/// The promoted dtype of the operands and the dtype the kernels compute in.
fn float_dtypes(what: &str, named: &[(&str, Option<&Tensor>)]) -> Result<(DType, DType)> {
    let mut dt: Option<DType> = None;
    for (name, t) in named {
        let Some(t) = t else { continue };
        let d = t.dtype();
        if !d.is_float() {
            bail!(
                Type,
                "{what}: expected floating-point tensors, got {} for the {name}; integer convolution is not \
                 supported (convert with .float() first)",
                d.name()
            );
        }
        dt = Some(dt.map_or(d, |a| promote(a, d)));
    }
    let dt = dt.unwrap_or(DType::F32);
    let compute = if dt == DType::F64 { DType::F64 } else { DType::F32 };
    Ok((dt, compute))
}

/// `t` as a contiguous tensor of `dtype`.
fn prepared(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        contiguous(t)
    } else {
        astype(t, dtype)
    }
}

fn finish(out: Tensor, dt: DType) -> Result<Tensor> {
    if out.dtype() == dt {
        Ok(out)
    } else {
        astype(&out, dt)
    }
}

fn check_bias(what: &str, bias: Option<&Tensor>, channels: usize) -> Result<()> {
    if let Some(b) = bias {
        if b.shape() != [channels] {
            bail!(Value, "{what}: bias must have shape ({channels},), got {:?}", b.shape());
        }
    }
    Ok(())
}

macro_rules! with_float {
    ($dt:expr, $T:ident => $body:expr) => {
        if $dt == DType::F64 {
            type $T = f64;
            $body
        } else {
            type $T = f32;
            $body
        }
    };
}

/// Convolution (cross-correlation, as in PyTorch) of `input` `(N, C_in, *spatial)` with
/// `weight` `(C_out, C_in/groups, *kernel)`, plus `bias` `(C_out,)`. The number of spatial
/// dims (1, 2 or 3) is the weight's rank minus 2.
pub fn conv(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, p: &ConvParams) -> Result<Tensor> {
    let what = "conv";
    let gpu_run = on_gpu(what, &[Some(input), Some(weight), bias])?;
    let (dt, compute) = float_dtypes(what, &[("input", Some(input)), ("weight", Some(weight)), ("bias", bias)])?;
    let (g, out_shape) = geometry(what, input.shape(), weight.shape(), p)?;
    check_bias(what, bias, g.c_out)?;
    if gpu_run {
        return gpu::conv(&g, input, weight, bias, &out_shape);
    }
    let (x, w) = (prepared(input, compute)?, prepared(weight, compute)?);
    let b = bias.map(|b| prepared(b, compute)).transpose()?;
    let out = Tensor::for_overwrite(&out_shape, compute)?;
    with_float!(compute, T => unsafe {
        kernels::forward::<T>(
            &g,
            x.data_ptr() as *const T,
            w.data_ptr() as *const T,
            b.as_ref().map(|b| b.data_ptr() as *const T),
            out.data_ptr() as *mut T,
            algo(),
        )
    });
    finish(out, dt)
}

/// The gradient of [`conv`] with respect to its input: `grad_out` has the convolution's
/// output shape, `input_shape` is the shape of the input the forward pass saw. Equal to
/// `conv_transpose(grad_out, weight)` cropped/padded to `input_shape`.
pub fn conv_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    p: &ConvParams,
) -> Result<Tensor> {
    let what = "conv_backward_input";
    let gpu_run = on_gpu(what, &[Some(grad_out), Some(weight)])?;
    let (dt, compute) = float_dtypes(what, &[("grad_out", Some(grad_out)), ("weight", Some(weight))])?;
    let (g, out_shape) = geometry(what, input_shape, weight.shape(), p)?;
    if grad_out.shape() != out_shape.as_slice() {
        bail!(
            Value,
            "{what}: grad_out has shape {:?} but the convolution of {input_shape:?} by {:?} gives {out_shape:?}",
            grad_out.shape(),
            weight.shape()
        );
    }
    if gpu_run {
        return gpu::conv_backward_input(&g, grad_out, weight, None, input_shape);
    }
    input_grad(&g, grad_out, weight, input_shape, compute, dt)
}

fn input_grad(g: &Geom, gy: &Tensor, weight: &Tensor, shape: &[usize], compute: DType, dt: DType) -> Result<Tensor> {
    let (gy, w) = (prepared(gy, compute)?, prepared(weight, compute)?);
    let out = Tensor::for_overwrite(shape, compute)?;
    with_float!(compute, T => unsafe {
        kernels::backward_input::<T>(
            g,
            gy.data_ptr() as *const T,
            w.data_ptr() as *const T,
            out.data_ptr() as *mut T,
            algo(),
        )
    });
    finish(out, dt)
}

/// The gradient of [`conv`] with respect to its weight: `grad_out` has the convolution's
/// output shape, `input` is the forward pass's input, `weight_shape` the weight's shape.
/// (The bias gradient is `grad_out` summed over every dim but 1.)
pub fn conv_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    p: &ConvParams,
) -> Result<Tensor> {
    let what = "conv_backward_weight";
    let gpu_run = on_gpu(what, &[Some(grad_out), Some(input)])?;
    let (dt, compute) = float_dtypes(what, &[("grad_out", Some(grad_out)), ("input", Some(input))])?;
    let (g, out_shape) = geometry(what, input.shape(), weight_shape, p)?;
    if grad_out.shape() != out_shape.as_slice() {
        bail!(
            Value,
            "{what}: grad_out has shape {:?} but the convolution of {:?} by a {weight_shape:?} weight gives \
             {out_shape:?}",
            grad_out.shape(),
            input.shape()
        );
    }
    if gpu_run {
        return gpu::conv_backward_weight(&g, grad_out, input, weight_shape);
    }
    let (gy, x) = (prepared(grad_out, compute)?, prepared(input, compute)?);
    let out = Tensor::for_overwrite(weight_shape, compute)?;
    with_float!(compute, T => unsafe {
        kernels::backward_weight::<T>(
            &g,
            gy.data_ptr() as *const T,
            x.data_ptr() as *const T,
            out.data_ptr() as *mut T,
            algo(),
        )
    });
    finish(out, dt)
}

/// Transposed convolution (PyTorch's `conv_transpose{1,2,3}d`): `input` `(N, C_in,
/// *spatial)`, `weight` `(C_in, C_out/groups, *kernel)`, `bias` `(C_out,)`. Output size per
/// dim: `(in - 1) * stride - pad_before - pad_after + dilation * (k - 1) + output_padding + 1`.
pub fn conv_transpose(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &ConvParams,
    output_padding: &[usize],
) -> Result<Tensor> {
    let what = "conv_transpose";
    let gpu_run = on_gpu(what, &[Some(input), Some(weight), bias])?;
    let (dt, compute) = float_dtypes(what, &[("input", Some(input)), ("weight", Some(weight)), ("bias", bias)])?;
    let ws = weight.shape();
    if !(3..=5).contains(&ws.len()) {
        bail!(Value, "{what}: weight must be 3-D, 4-D or 5-D (C_in, C_out/groups, *kernel), got shape {ws:?}");
    }
    let nd = ws.len() - 2;
    let is = input.shape();
    if is.len() != nd + 2 {
        bail!(Value, "{what}: a {nd}-D convolution needs a {}-D input (N, C, *spatial), got shape {is:?}", nd + 2);
    }
    if is[1] != ws[0] {
        bail!(Value, "{what}: input has {} channels but weight of shape {ws:?} expects {}", is[1], ws[0]);
    }
    if output_padding.len() != nd || p.stride.len() != nd || p.padding.len() != nd || p.dilation.len() != nd {
        bail!(Value, "{what}: parameters {p:?}, output_padding {output_padding:?} do not have {nd} entries each");
    }
    if p.groups == 0 || ws[0] % p.groups != 0 {
        bail!(Value, "{what}: groups={} must divide the input channels ({})", p.groups, ws[0]);
    }
    let mut conv_in = vec![is[0], ws[1] * p.groups];
    for i in 0..nd {
        let (s, d) = (p.stride[i], p.dilation[i]);
        if s == 0 || d == 0 {
            bail!(Value, "{what}: stride and dilation must be positive, got {:?} and {:?}", p.stride, p.dilation);
        }
        if output_padding[i] >= s.max(d) {
            bail!(
                Value,
                "{what}: output_padding {:?} must be smaller than either stride {:?} or dilation {:?}",
                output_padding,
                p.stride,
                p.dilation
            );
        }
        let size = (is[2 + i] as i64 - 1) * s as i64 - (p.padding[i].0 + p.padding[i].1) as i64
            + (d * (ws[2 + i].max(1) - 1) + output_padding[i] + 1) as i64;
        if size < 1 {
            bail!(
                Value,
                "{what}: the output would have size {size} in spatial dim {i} (input shape {is:?}, weight shape \
                 {ws:?}, padding {:?})",
                p.padding
            );
        }
        conv_in.push(size as usize);
    }
    check_bias(what, bias, conv_in[1])?;
    let (mut g, _) = geometry(what, &conv_in, ws, p)?;
    // The forward convolution of `conv_in` may reach one position further (output_padding);
    // the kernel takes the given input's extent.
    for i in 0..nd {
        g.out[3 - nd + i] = is[2 + i];
    }
    if gpu_run {
        return gpu::conv_backward_input(&g, input, weight, bias, &conv_in);
    }
    let out = input_grad(&g, input, weight, &conv_in, compute, compute)?;
    if let Some(b) = bias {
        let b = prepared(b, compute)?;
        let vol: usize = conv_in[2..].iter().product();
        with_float!(compute, T => unsafe {
            kernels::add_bias::<T>(conv_in[0], conv_in[1], vol, b.data_ptr() as *const T, out.data_ptr() as *mut T)
        });
    }
    finish(out, dt)
}
