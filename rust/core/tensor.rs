//! The tensor handle: an `Arc` of (storage, layout, dtype). Cloning is cheap; views
//! share storage and differ only in layout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::device::Device;
use super::dtype::{DType, Element};
use super::error::Result;
use super::layout::{checked_numel, Layout};
use super::storage::{CpuBuffer, Storage};
use crate::autograd::AutogradMeta;
use crate::bail;

#[derive(Clone)]
pub struct Tensor(Arc<TensorImpl>);

pub struct TensorImpl {
    storage: Storage,
    layout: Layout,
    dtype: DType,
    /// Read on every op to decide whether to record; kept outside the lock.
    requires_grad: AtomicBool,
    /// Gradient, producing node and hooks; `None` for the tensors autograd never saw.
    autograd: Mutex<Option<Box<AutogradMeta>>>,
}

impl Tensor {
    pub fn from_parts(storage: Storage, layout: Layout, dtype: DType) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            dtype,
            requires_grad: AtomicBool::new(false),
            autograd: Mutex::new(None),
        }))
    }

    /// Whether autograd tracks this tensor (a leaf asked for it, or an op recorded it).
    #[inline]
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    pub(crate) fn set_requires_grad_flag(&self, on: bool) {
        self.0.requires_grad.store(on, Ordering::Relaxed)
    }

    /// The autograd record, locked (poisoning is ignored: the data stays consistent).
    pub(crate) fn autograd(&self) -> MutexGuard<'_, Option<Box<AutogradMeta>>> {
        self.0.autograd.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Same data and layout, no autograd history (PyTorch's `detach`).
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.0.layout.clone())
    }

    /// Whether both handles are the very same tensor (not merely the same memory).
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn downgrade(&self) -> Weak<TensorImpl> {
        Arc::downgrade(&self.0)
    }

    pub(crate) fn upgrade(w: &Weak<TensorImpl>) -> Option<Tensor> {
        w.upgrade().map(Tensor)
    }

    /// The storage's in-place write counter, shared by every view of it.
    pub fn version(&self) -> u64 {
        self.0.storage.version().load(Ordering::Relaxed)
    }

    /// Whether no other tensor or view holds this tensor's memory.
    pub fn owns_storage_alone(&self) -> bool {
        self.0.storage.unshared()
    }

    /// A new contiguous, zero-filled tensor.
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let layout = Layout::contiguous(shape)?;
        let n = checked_numel(shape)?;
        let buf = CpuBuffer::zeroed(n * dtype.size())?;
        Ok(Tensor::from_parts(Storage::Cpu(Arc::new(buf)), layout, dtype))
    }

    /// A new contiguous tensor with unspecified contents, for kernels that write every
    /// element before the tensor is returned.
    pub fn for_overwrite(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let layout = Layout::contiguous(shape)?;
        let n = checked_numel(shape)?;
        let buf = CpuBuffer::for_overwrite(n * dtype.size())?;
        Ok(Tensor::from_parts(Storage::Cpu(Arc::new(buf)), layout, dtype))
    }

    /// A new contiguous tensor with unspecified contents on `device`.
    pub fn for_overwrite_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        match device {
            Device::Cpu => Tensor::for_overwrite(shape, dtype),
            Device::Gpu(i) => crate::gpu::empty(shape, dtype, i),
        }
    }

    /// A new contiguous, zero-filled tensor on `device`.
    pub fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        match device {
            Device::Cpu => Tensor::zeros(shape, dtype),
            Device::Gpu(_) => {
                let t = Tensor::for_overwrite_on(shape, dtype, device)?;
                crate::ops::copy::fill(&t, super::Scalar::Int(0))?;
                Ok(t)
            }
        }
    }

    /// A contiguous 1-D tensor holding `data`.
    pub fn from_vec<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        if checked_numel(shape)? != data.len() {
            bail!(Value, "{} values do not fill shape {shape:?}", data.len());
        }
        let t = Tensor::for_overwrite(shape, T::DTYPE)?;
        // SAFETY: fresh contiguous buffer of exactly data.len() elements of T.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), t.data_ptr() as *mut T, data.len()) };
        Ok(t)
    }

    /// Same storage, another layout: the primitive behind every view.
    pub fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout, self.0.dtype)
    }

    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.layout.strides
    }
    pub fn offset(&self) -> usize {
        self.0.layout.offset
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn is_readonly(&self) -> bool {
        self.0.storage.readonly()
    }

    /// Address of the element at the layout's offset (index 0 of every dim).
    pub fn data_ptr(&self) -> *mut u8 {
        let base = self.0.storage.cpu().as_ptr();
        // SAFETY: offsets are produced by Layout arithmetic inside the buffer.
        unsafe { base.add(self.0.layout.offset * self.0.dtype.size()) }
    }

    /// Address of the element at absolute storage offset `offset` (in elements).
    pub fn data_ptr_at(&self, offset: usize) -> *mut u8 {
        let base = self.0.storage.cpu().as_ptr();
        // SAFETY: callers pass offsets of layouts over this storage.
        unsafe { base.add(offset * self.0.dtype.size()) }
    }

    pub fn shares_storage(&self, other: &Tensor) -> bool {
        self.0.storage.same(&other.0.storage)
    }

    /// Whether two tensors may touch the same bytes (conservative: compares spans).
    pub fn may_overlap(&self, other: &Tensor) -> bool {
        if !self.shares_storage(other) || self.numel() == 0 || other.numel() == 0 {
            return false;
        }
        let (a0, a1) = self.byte_span();
        let (b0, b1) = other.byte_span();
        a0 < b1 && b0 < a1
    }

    fn byte_span(&self) -> (isize, isize) {
        let (lo, hi) = self.0.layout.span();
        let s = self.0.dtype.size() as isize;
        (lo * s, hi * s)
    }

    /// Errors unless this tensor's memory may be written.
    pub fn check_writable(&self) -> Result<()> {
        if self.is_readonly() {
            bail!(Runtime, "this tensor is read-only (it shares memory with a read-only array); copy it with .clone() before writing");
        }
        // Every in-place writer passes here: bump the version autograd checks.
        self.0.storage.version().fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
