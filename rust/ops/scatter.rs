//! PyTorch's `scatter_add_`: `out[idx]` accumulates `src` along `dim`, where the index
//! of each element of `src` along `dim` is replaced by `index`'s value there. Runs
//! serially in `index` order, so duplicate indices accumulate deterministically.

use crate::bail;
use crate::core::{normalize_axis, DType, Result, Tensor};
use crate::cpu::num::Num;
use crate::ops::copy::{astype, contiguous};
use crate::with_dtype;

pub fn scatter_add(out: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<()> {
    out.check_writable()?;
    // The index may live on the CPU with GPU operands (it is uploaded, as PyTorch does).
    crate::ops::device::common_device("scatter_add", &[out, src])?;
    let nd = out.ndim();
    let d = normalize_axis(dim, nd.max(1))?;
    if index.ndim() != nd || src.ndim() != nd {
        bail!(
            Value,
            "scatter_add: out, index and src need the same number of dims, got {:?}, {:?}, {:?}",
            out.shape(),
            index.shape(),
            src.shape()
        );
    }
    for k in 0..nd {
        if index.shape()[k] > src.shape()[k] || (k != d && index.shape()[k] > out.shape()[k]) {
            bail!(
                Value,
                "scatter_add: index of shape {:?} does not fit src {:?} / out {:?}",
                index.shape(),
                src.shape(),
                out.shape()
            );
        }
    }
    if !index.dtype().is_int() {
        bail!(Type, "scatter_add: index must be an integer tensor, got {}", index.dtype());
    }
    if let crate::core::Device::Gpu(i) = out.device() {
        return gpu_scatter_add(out, d, index, src, i);
    }
    if index.device().is_gpu() {
        bail!(Runtime, "scatter_add: a GPU index cannot address a CPU tensor; move it with .cpu()");
    }
    let idx = astype(index, DType::I64)?;
    let src = if src.dtype() == out.dtype() { src.clone() } else { astype(src, out.dtype())? };
    let src = if src.may_overlap(out) { crate::ops::copy::contiguous_copy(&src)? } else { contiguous(&src)? };
    let shape = idx.shape().to_vec();
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let limit = out.shape()[d] as i64;
    // SAFETY: idx is a fresh contiguous int64 tensor.
    let iv = unsafe { std::slice::from_raw_parts(idx.data_ptr() as *const i64, n) };
    if let Some(bad) = iv.iter().find(|&&v| v < -limit || v >= limit) {
        bail!(Index, "scatter_add: index {bad} is out of bounds for dim {d} with size {limit}");
    }
    let (os, ss) = (out.strides().to_vec(), src.strides().to_vec());
    with_dtype!(out.dtype(), T => unsafe {
        let (po, ps) = (out.data_ptr() as *mut T, src.data_ptr() as *const T);
        let mut coord = vec![0usize; nd];
        for &v in iv.iter() {
            let target = if v < 0 { v + limit } else { v } as usize;
            let (mut oo, mut so) = (0isize, 0isize);
            for k in 0..nd {
                let c = if k == d { target } else { coord[k] };
                oo += c as isize * os[k];
                so += coord[k] as isize * ss[k];
            }
            let q = po.offset(oo);
            *q = <T as Num>::add(*q, *ps.offset(so));
            for k in (0..nd).rev() {
                coord[k] += 1;
                if coord[k] < shape[k] {
                    break;
                }
                coord[k] = 0;
            }
        }
    });
    Ok(())
}

/// The GPU path: the index is bounds-checked on the host (a readback when it lives on
/// the GPU), then the atomic scatter-add kernel runs over the used part of `src`.
fn gpu_scatter_add(out: &Tensor, d: usize, index: &Tensor, src: &Tensor, device: u32) -> Result<()> {
    if out.dtype() == DType::F16 {
        // No 16-bit atomics: accumulate in a float32 copy, then round each element once.
        let acc = crate::ops::f16_gpu::widen(out)?;
        gpu_scatter_add(&acc, d, index, src, device)?;
        return crate::ops::copy::assign(out, &acc);
    }
    let host = astype(&crate::ops::copy::on_cpu(index)?, DType::I64)?;
    let limit = out.shape()[d] as i64;
    // SAFETY: host is a fresh contiguous int64 tensor.
    let iv = unsafe { std::slice::from_raw_parts(host.data_ptr() as *const i64, host.numel()) };
    if let Some(bad) = iv.iter().find(|&&v| v < -limit || v >= limit) {
        bail!(Index, "scatter_add: index {bad} is out of bounds for dim {d} with size {limit}");
    }
    let idx = match index.device() {
        crate::core::Device::Gpu(_) if matches!(index.dtype(), DType::I32 | DType::U32) => index.clone(),
        crate::core::Device::Gpu(_) => astype(index, DType::I32)?,
        crate::core::Device::Cpu => crate::gpu::upload(&astype(&host, DType::I32)?, device)?,
    };
    crate::ops::device::common_device("scatter_add", &[out, &idx])?;
    // Only the part of src that index covers takes part; it is read through its strides.
    let used = src.with_layout(crate::core::Layout {
        shape: index.shape().into(),
        strides: src.strides().into(),
        offset: src.offset(),
    });
    let used = if used.dtype() == out.dtype() { used } else { astype(&used, out.dtype())? };
    crate::gpu::scatter_add(out, d, &idx, &used)
}
