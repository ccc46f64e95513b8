//! Copies: assignment through views (with broadcasting and casting), `contiguous`,
//! `clone`, `astype`, `fill` and moves between devices. On the CPU all of them run the
//! one strided kernel in `cpu::copy`; GPU tensors go to the copy/fill shaders.

use crate::core::{Device, Element, Layout, Result, Scalar, Tensor};
use crate::cpu::copy::{copy, copy_indexed, Plan, Walk};
use crate::ops::device::common_device;
use crate::with_dtype;

/// Runs `f` with the element types of `src` and `dst`, converting numpy-style.
macro_rules! with_pair {
    ($src:expr, $dst:expr, |$S:ident, $D:ident| $body:expr) => {
        with_dtype!($src, $S => with_dtype!($dst, $D => $body))
    };
}

/// Copy `src` (already broadcast to `dst`'s shape) into `dst`, converting dtype.
/// The caller guarantees no overlap, one device and a writable `dst`.
fn copy_raw(dst: &Tensor, src_layout: &Layout, src: &Tensor) -> Result<()> {
    if dst.device().is_gpu() {
        return crate::gpu::copy(dst, src_layout, src);
    }
    let plan = Plan::new(dst.shape(), &src_layout.strides, dst.strides());
    let sp = src.data_ptr_at(src_layout.offset);
    let dp = dst.data_ptr();
    if src.dtype() == dst.dtype() {
        // Same dtype: move bytes, one instantiation per element size.
        match dst.dtype().size() {
            1 => unsafe { copy(&plan, sp as *const u8, dp, |x| x) },
            2 => unsafe { copy(&plan, sp as *const u16, dp as *mut u16, |x| x) },
            4 => unsafe { copy(&plan, sp as *const u32, dp as *mut u32, |x| x) },
            _ => unsafe { copy(&plan, sp as *const u64, dp as *mut u64, |x| x) },
        }
        return Ok(());
    }
    with_pair!(src.dtype(), dst.dtype(), |S, D| unsafe {
        copy(&plan, sp as *const S, dp as *mut D, |x: S| D::from_scalar(x.to_scalar()))
    });
    Ok(())
}

/// `dst[...] = src`: broadcasts `src` to `dst`'s shape, casts, and copies through
/// `dst`'s strides. Overlapping operands are handled by copying `src` first.
pub fn assign(dst: &Tensor, src: &Tensor) -> Result<()> {
    dst.check_writable()?;
    common_device("assignment", &[dst, src])?;
    let src = &drop_leading_ones(src, dst.ndim());
    let layout = src.layout().broadcast_to(dst.shape())?;
    if dst.may_overlap(src) {
        let tmp = contiguous_copy(src)?;
        let layout = tmp.layout().broadcast_to(dst.shape())?;
        copy_raw(dst, &layout, &tmp)
    } else {
        copy_raw(dst, &layout, src)
    }
}

/// `t` without leading size-1 dims beyond `ndim` (numpy lets an assigned value carry them).
pub fn drop_leading_ones(t: &Tensor, ndim: usize) -> Tensor {
    let extra = t.ndim().saturating_sub(ndim);
    let ones = t.shape()[..extra].iter().take_while(|&&d| d == 1).count();
    if ones == 0 {
        return t.clone();
    }
    let mut l = t.layout().clone();
    l.shape.drain(..ones);
    l.strides.drain(..ones);
    t.with_layout(l)
}

/// Writes `value` into every element of `dst`.
pub fn fill(dst: &Tensor, value: Scalar) -> Result<()> {
    dst.check_writable()?;
    if dst.device().is_gpu() {
        return crate::gpu::fill(dst, value);
    }
    with_dtype!(dst.dtype(), T => {
        let v: T = value.cast();
        let plan = Plan::new(dst.shape(), &vec![0; dst.ndim()], dst.strides());
        unsafe { copy(&plan, &v as *const T, dst.data_ptr() as *mut T, |x| x) }
    });
    Ok(())
}

/// A new contiguous tensor with `src`'s values converted to `dtype`.
/// (On the GPU, `dtype` must be one the GPU holds: a TypeError says what to do.)
pub fn astype(src: &Tensor, dtype: crate::core::DType) -> Result<Tensor> {
    let out = Tensor::for_overwrite_on(src.shape(), dtype, src.device())?;
    copy_raw(&out, src.layout(), src)?;
    Ok(out)
}

/// `src` on `device`: itself when already there, else a contiguous copy. Moves to a GPU
/// raise a TypeError for dtypes the GPU cannot hold (nothing is narrowed silently).
pub fn to_device(src: &Tensor, device: Device) -> Result<Tensor> {
    match (src.device(), device) {
        (a, b) if a == b => Ok(src.clone()),
        (Device::Cpu, Device::Gpu(i)) => crate::gpu::upload(src, i),
        (Device::Gpu(_), Device::Cpu) => crate::gpu::download(src),
        (Device::Gpu(_), Device::Gpu(i)) => crate::gpu::upload(&crate::gpu::download(src)?, i),
        (Device::Cpu, Device::Cpu) => unreachable!("equal devices return early"),
    }
}

/// `src` as a CPU tensor (a readback for GPU tensors, the tensor itself otherwise).
pub fn on_cpu(src: &Tensor) -> Result<Tensor> {
    to_device(src, Device::Cpu)
}

/// Always a fresh contiguous copy.
pub fn contiguous_copy(src: &Tensor) -> Result<Tensor> {
    astype(src, src.dtype())
}

/// `src` itself when already contiguous, else a contiguous copy.
pub fn contiguous(src: &Tensor) -> Result<Tensor> {
    if src.is_contiguous() {
        Ok(src.clone())
    } else {
        contiguous_copy(src)
    }
}

/// Gathers blocks: block `i` starts at absolute storage offset `src_offsets[i]` and has
/// `inner`'s shape and strides; it is written to `out` at `i * out_block_stride` plus
/// `out_inner`'s offset and strides.
pub fn gather_blocks(
    src: &Tensor,
    src_offsets: &[isize],
    inner: &Layout,
    out: &Tensor,
    out_block_stride: isize,
    out_inner: &Layout,
) {
    let plan = Plan::new(&inner.shape, &inner.strides, &out_inner.strides);
    with_dtype!(src.dtype(), T => unsafe {
        copy_indexed(
            src_offsets.len(),
            Walk::Table(src_offsets),
            Walk::Stride(out_block_stride),
            &plan,
            src.data_ptr_at(0) as *const T,
            out.data_ptr_at(out_inner.offset) as *mut T,
            |x| x,
        )
    })
}

/// The inverse of [`gather_blocks`]: block `i` of `src` (stride `src_block_stride`, inner
/// layout `src_inner`, same dtype as `dst`) is written at `dst_offsets[i]`.
pub fn scatter_blocks(
    dst: &Tensor,
    dst_offsets: &[isize],
    inner: &Layout,
    src: &Tensor,
    src_block_stride: isize,
    src_inner: &Layout,
) {
    let plan = Plan::new(&inner.shape, &src_inner.strides, &inner.strides);
    with_dtype!(dst.dtype(), T => unsafe {
        copy_indexed(
            dst_offsets.len(),
            Walk::Stride(src_block_stride),
            Walk::Table(dst_offsets),
            &plan,
            src.data_ptr_at(src_inner.offset) as *const T,
            dst.data_ptr_at(0) as *mut T,
            |x| x,
        )
    })
}

/// Reads the single element at the layout's offset (a readback for GPU tensors).
pub fn item(t: &Tensor) -> Result<Scalar> {
    let t = &on_cpu(t)?;
    Ok(with_dtype!(t.dtype(), T => unsafe { (*(t.data_ptr() as *const T)).to_scalar() }))
}

/// Values in C order as f64 (tests and debugging).
pub fn to_f64_vec(t: &Tensor) -> Result<Vec<f64>> {
    let c = astype(&on_cpu(t)?, crate::core::DType::F64)?;
    let p = c.data_ptr() as *const f64;
    Ok((0..c.numel()).map(|i| unsafe { *p.add(i) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::DType;

    #[test]
    fn transpose_contiguous_casts() {
        let a = Tensor::from_vec(&(0..6).collect::<Vec<_>>(), &[2, 3]).unwrap();
        let t = a.permute(&[1, 0]).unwrap();
        let c = astype(&t, DType::F32).unwrap();
        assert_eq!(to_f64_vec(&c).unwrap(), vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn overlapping_assign_reads_before_writing() {
        let a = Tensor::from_vec(&[1i64, 2, 3, 4, 5], &[5]).unwrap();
        let dst = a.narrow(0, 1, 4).unwrap();
        let src = a.narrow(0, 0, 4).unwrap();
        assign(&dst, &src).unwrap();
        assert_eq!(to_f64_vec(&a).unwrap(), vec![1., 1., 2., 3., 4.]);
    }
}
