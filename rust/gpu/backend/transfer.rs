//! Moving data between host and device: fresh device tensors, uploads (recorded in the
//! pending batch, so they stay ordered with the kernels around them) and readbacks.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::buffers::GpuBuffer;
use super::kernels::{buffer, copy};
use super::registry::context;
use super::staging::read_bytes;
use crate::core::{DType, Layout, Result, Storage, Tensor};
use crate::gpu::check_dtype;
use crate::ops::copy::{astype, contiguous};

/// Every GPU dtype is stored in 4-byte words (bool as u32).
const WORD: usize = 4;

/// A contiguous GPU tensor with unspecified contents on adapter `index`.
pub fn empty(shape: &[usize], dtype: DType, index: u32) -> Result<Tensor> {
    check_dtype(dtype, "a GPU tensor")?;
    let layout = Layout::contiguous(shape)?;
    let ctx = context(index)?;
    let buf = GpuBuffer::new(&ctx, (layout.numel() * WORD) as u64)?;
    Ok(Tensor::from_parts(Storage::Gpu(Arc::new(buf)), layout, dtype))
}

/// A copy of the CPU tensor `t` on adapter `index` (contiguous).
pub fn upload(t: &Tensor, index: u32) -> Result<Tensor> {
    check_dtype(t.dtype(), "to('gpu')")?;
    let out = empty(t.shape(), t.dtype(), index)?;
    let n = t.numel();
    if n == 0 {
        return Ok(out);
    }
    let host = if t.dtype() == DType::Bool { astype(t, DType::U32)? } else { contiguous(t)? };
    // SAFETY: `host` is contiguous with n elements of 4 bytes each.
    let bytes = unsafe { std::slice::from_raw_parts(host.data_ptr() as *const u8, n * WORD) };
    let dst = buffer(&out)?;
    let ctx = dst.ctx();
    let staging = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("ferrograd upload"),
        contents: bytes,
        usage: wgpu::BufferUsages::COPY_SRC,
    });
    let full =
        ctx.pending.record(&ctx.device, |enc| enc.copy_buffer_to_buffer(&staging, 0, dst.raw(), 0, (n * WORD) as u64));
    if full {
        ctx.flush();
    }
    Ok(out)
}

/// A contiguous CPU copy of the GPU tensor `t` (waits for the work that produces it).
pub fn download(t: &Tensor) -> Result<Tensor> {
    let store = if t.dtype() == DType::Bool { DType::U32 } else { t.dtype() };
    let n = t.numel();
    if n == 0 {
        return Tensor::zeros(t.shape(), t.dtype());
    }
    // A strided view is first gathered on the device, so one dense range comes back.
    let dense = if t.is_contiguous() {
        t.clone()
    } else {
        let tmp = empty(t.shape(), t.dtype(), buffer(t)?.ctx().index)?;
        copy(&tmp, t.layout(), t)?;
        tmp
    };
    let buf = buffer(&dense)?;
    let bytes = read_bytes(buf.ctx(), buf.raw(), (dense.offset() * WORD) as u64, (n * WORD) as u64)?;
    let host = Tensor::for_overwrite(t.shape(), store)?;
    // SAFETY: fresh contiguous tensor of n 4-byte elements; bytes has n * 4 bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), host.data_ptr(), n * WORD) };
    if store == t.dtype() {
        Ok(host)
    } else {
        astype(&host, t.dtype())
    }
}
