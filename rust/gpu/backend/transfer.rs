//! Moving data between host and device: fresh device tensors, uploads (recorded in the
//! pending batch, so they stay ordered with the kernels around them) and readbacks.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::buffers::GpuBuffer;
use super::kernels::{buffer, copy};
use super::registry::context;
use super::staging::read_bytes;
use crate::bail;
use crate::core::{DType, Layout, Result, Storage, Tensor};
use crate::gpu::{check_dtype, element_size};
use crate::ops::copy::{astype, contiguous};

/// Buffer copies and bindings move whole 4-byte words (wgpu's COPY_BUFFER_ALIGNMENT).
const WORD: u64 = 4;

/// A contiguous GPU tensor with unspecified contents on adapter `index`.
pub fn empty(shape: &[usize], dtype: DType, index: u32) -> Result<Tensor> {
    empty_as(shape, dtype, index, "a GPU tensor")
}

/// [`empty`], with `what` naming the operation in a dtype error.
fn empty_as(shape: &[usize], dtype: DType, index: u32, what: &str) -> Result<Tensor> {
    check_dtype(dtype, what)?;
    let layout = Layout::contiguous(shape)?;
    let ctx = context(index)?;
    if dtype == DType::F16 && !ctx.f16 {
        bail!(
            Type,
            "{what}: float16 tensors need the adapter's shader-f16 feature, which gpu:{index} ({}) lacks{}; \
             convert first, e.g. t.float().to('gpu') (float32)",
            ctx.adapter_name,
            if std::env::var("FERROGRAD_GPU_NO_F16").is_ok_and(|v| v == "1") {
                " (FERROGRAD_GPU_NO_F16=1 turned it off)"
            } else {
                ""
            }
        );
    }
    // Whole words: a float16 tensor of odd length still binds and copies as words.
    let nbytes = ((layout.numel() * element_size(dtype)) as u64).next_multiple_of(WORD);
    let buf = GpuBuffer::new(&ctx, nbytes)?;
    Ok(Tensor::from_parts(Storage::Gpu(Arc::new(buf)), layout, dtype))
}

/// A copy of the CPU tensor `t` on adapter `index` (contiguous).
pub fn upload(t: &Tensor, index: u32) -> Result<Tensor> {
    let out = empty_as(t.shape(), t.dtype(), index, "to('gpu')")?;
    let n = t.numel();
    if n == 0 {
        return Ok(out);
    }
    let host = if t.dtype() == DType::Bool { astype(t, DType::U32)? } else { contiguous(t)? };
    let len = n * element_size(t.dtype());
    // SAFETY: `host` is contiguous with n elements of the GPU's element size (bool went
    // to u32 above; float16 is 2 bytes on both sides).
    let bytes = unsafe { std::slice::from_raw_parts(host.data_ptr() as *const u8, len) };
    let dst = buffer(&out)?;
    let ctx = dst.ctx();
    let staging = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("ferrograd upload"),
        contents: bytes,
        usage: wgpu::BufferUsages::COPY_SRC,
    });
    // create_buffer_init pads the staging buffer to whole words; `out`'s buffer is too.
    let words = (len as u64).next_multiple_of(WORD);
    let full = ctx.pending.record(&ctx.device, |enc| enc.copy_buffer_to_buffer(&staging, 0, dst.raw(), 0, words));
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
    let es = element_size(t.dtype()) as u64;
    // Whole words around the elements (a float16 view may start mid-word).
    let (begin, len) = (dense.offset() as u64 * es, n as u64 * es);
    let start = begin / WORD * WORD;
    let end = (begin + len).next_multiple_of(WORD);
    let bytes = read_bytes(buf.ctx(), buf.raw(), start, end - start)?;
    let host = Tensor::for_overwrite(t.shape(), store)?;
    let skip = (begin - start) as usize;
    // SAFETY: fresh contiguous tensor of n elements of `es` bytes; `bytes` holds them
    // from `skip` on.
    unsafe { std::ptr::copy_nonoverlapping(bytes[skip..].as_ptr(), host.data_ptr(), len as usize) };
    if store == t.dtype() {
        Ok(host)
    } else {
        astype(&host, t.dtype())
    }
}
